package alerts

import (
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
)

func TestRuleMatches(t *testing.T) {
	payments := &rule{ID: 1, SiteID: "shop", Service: "checkout", MinSeverity: 17, BodyMatch: "Payment", Threshold: 3, Window: time.Minute}
	anyService := &rule{ID: 2, SiteID: "shop", MinSeverity: 13, Threshold: 1, Window: time.Minute}
	other := &rule{ID: 3, SiteID: "other", MinSeverity: 1, Threshold: 1, Window: time.Minute}
	s := newRuleSet([]*rule{payments, anyService, other})

	rec := func(site, service string, sev uint8, body string) *event.LogRecord {
		return &event.LogRecord{V: 1, SiteID: site, Service: service, SeverityNumber: sev, Body: body, Time: 1}
	}
	for _, c := range []struct {
		name string
		rec  *event.LogRecord
		want []int64
	}{
		{"error of checkout about payment", rec("shop", "checkout", 17, "payment declined"), []int64{1, 2}},
		{"body matched in any case", rec("shop", "checkout", 17, "PAYMENT DECLINED"), []int64{1, 2}},
		{"inside a word", rec("shop", "checkout", 17, "prepayments failing"), []int64{1, 2}},
		{"fatal is above error", rec("shop", "checkout", 21, "payment gateway down"), []int64{1, 2}},
		{"another service", rec("shop", "search", 17, "payment declined"), []int64{2}},
		{"service names are exact", rec("shop", "Checkout", 17, "payment declined"), []int64{2}},
		{"warn is below error", rec("shop", "checkout", 13, "payment slow"), []int64{2}},
		{"info is below both", rec("shop", "checkout", 9, "payment ok"), nil},
		{"unspecified severity never matches", rec("shop", "checkout", 0, "payment"), nil},
		{"body without the words", rec("shop", "checkout", 17, "cart declined"), []int64{2}},
		{"another site", rec("elsewhere", "checkout", 17, "payment declined"), nil},
		{"the other site's rule", rec("other", "x", 1, ""), []int64{3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []int64
			for _, r := range s.forRecord(c.rec) {
				got = append(got, r.ID)
			}
			if len(got) != len(c.want) {
				t.Fatalf("matched rules %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("matched rules %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]uint8{
		"TRACE": 1, "debug": 5, "Info": 9, "WARN": 13, "warning": 13, " error ": 17, "FATAL": 21, "critical": 21,
		"1": 1, "17": 17, "24": 24,
	} {
		if got, err := ParseSeverity(in); err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "25", "-1", "loud", "17.5", "017", "1e1"} {
		if got, err := ParseSeverity(in); err == nil {
			t.Errorf("ParseSeverity(%q) = %d, want an error", in, got)
		}
	}
}
