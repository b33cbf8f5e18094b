package promotions

import (
	"testing"
	"time"
)

// The view decays a score to the time it answers, as topQuery does: half
// as large one half-life after its last event, summed over the visitor's
// keys, in hundredths; and a decayed score can fall behind a fresher one.
func TestViewDecaysScores(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	const week = 7 * 24 * 3600.0
	v := newView()
	v.setCatalog(map[string][]offer{"shop": {
		{Promotion: Promotion{ID: "fan"}, priority: 10},
		{Promotion: Promotion{ID: "kettle"}, priority: 10},
	}})
	s := v.site("shop")
	s.setRow("anon", "fan", row{score: 10, reason: "search:fan", last: t0, expires: t0.AddDate(0, 1, 0), halfLife: week})
	s.setRow("anon", "kettle", row{score: 3, reason: "search:kettle", last: t0.Add(13 * 24 * time.Hour), expires: t0.AddDate(0, 1, 0), halfLife: week})
	s.link("anon", "user")
	s.setRow("user", "fan", row{score: 4, reason: "click:/fan", last: t0.Add(-7 * 24 * time.Hour), expires: t0.AddDate(0, 1, 0), halfLife: week})
	v.filled.Store(true)

	for _, tt := range []struct {
		at   time.Time
		want []Promotion
	}{
		// 10 + 4·½ now; kettle's row is still to come: worth its 3, never more.
		{t0, []Promotion{{ID: "fan", Score: 12, Reason: "search:fan"}, {ID: "kettle", Score: 3, Reason: "search:kettle"}}},
		{t0.Add(7 * 24 * time.Hour), []Promotion{{ID: "fan", Score: 6, Reason: "search:fan"}, {ID: "kettle", Score: 3, Reason: "search:kettle"}}},
		// Two weeks on: fan 10·¼ + 4·⅛ = 3, kettle 3·2^(-1/7) = 2.72.
		{t0.Add(14 * 24 * time.Hour), []Promotion{{ID: "fan", Score: 3, Reason: "search:fan"}, {ID: "kettle", Score: 2.72, Reason: "search:kettle"}}},
		// Three weeks on: fan 1.5, kettle 3·2^(-8/7) = 1.36.
		{t0.Add(21 * 24 * time.Hour), []Promotion{{ID: "fan", Score: 1.5, Reason: "search:fan"}, {ID: "kettle", Score: 1.36, Reason: "search:kettle"}}},
	} {
		got, err := v.top("shop", "anon", 5, tt.at)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tt.want) {
			t.Errorf("at %s: %+v, want %+v", tt.at, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("at %s: %+v, want %+v", tt.at, got, tt.want)
				break
			}
		}
	}
}

func TestCents(t *testing.T) {
	// As PostgreSQL's round(x::numeric, 2): x at 15 significant digits,
	// half away from zero.
	for x, want := range map[float64]float64{1.005: 1.01, 2.675: 2.68, -1.005: -1.01, 0.125: 0.13, 8.962958: 8.96, 4.999999: 5, 12.345: 12.35} {
		if got := cents(x); got != want {
			t.Errorf("cents(%v) = %v, want %v", x, got, want)
		}
	}
}
