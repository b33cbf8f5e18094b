package dashboard

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParsePeriod(t *testing.T) {
	today := day("2024-03-15")
	tests := []struct {
		period, date string
		first, last  string
	}{
		{"", "", "2024-02-15", "2024-03-15"}, // 30d by default
		{"day", "", "2024-03-15", "2024-03-15"},
		{"day", "today", "2024-03-15", "2024-03-15"},
		{"day", "2024-01-01", "2024-01-01", "2024-01-01"},
		{"7d", "2024-03-10", "2024-03-04", "2024-03-10"},
		{"30d", "", "2024-02-15", "2024-03-15"},
		{"month", "2024-02-10", "2024-02-01", "2024-02-29"},
		{"6mo", "2024-03-15", "2023-10-01", "2024-03-31"},
		{"12mo", "2024-03-15", "2023-04-01", "2024-03-31"},
		{"custom", "2024-01-05,2024-01-07", "2024-01-05", "2024-01-07"},
		{"custom", " 2024-01-05 , 2024-01-05 ", "2024-01-05", "2024-01-05"},
	}
	for _, tt := range tests {
		t.Run(tt.period+"/"+tt.date, func(t *testing.T) {
			p, err := parsePeriod(tt.period, tt.date, today)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.first.Format(time.DateOnly) + ".." + p.last.Format(time.DateOnly); got != tt.first+".."+tt.last {
				t.Fatalf("period %s date %q = %s, want %s..%s", tt.period, tt.date, got, tt.first, tt.last)
			}
			if !p.to().Equal(p.last.AddDate(0, 0, 1)) || !p.from().Equal(p.first) {
				t.Fatalf("bounds %s..%s do not cover whole days", p.from(), p.to())
			}
		})
	}
}

// badParam asserts err is a 400 whose message is want.
func badParam(t *testing.T, err error, want string) {
	t.Helper()
	var api *apiError
	if !errors.As(err, &api) {
		t.Fatalf("error = %v, want a 400 %q", err, want)
	}
	if api.status != 400 || api.msg != want {
		t.Fatalf("error = %d %q\nwant    400 %q", api.status, api.msg, want)
	}
}

func TestParsePeriodErrors(t *testing.T) {
	today := day("2024-03-15")
	tests := []struct{ period, date, want string }{
		{"weekly", "", "Error parsing `period` parameter: invalid period `weekly`. Please find accepted values in docs/dashboard.md#time-periods"},
		{"day", "2024-13-01", "Error parsing `date` parameter: invalid_date. Please specify a valid date in ISO-8601 format."},
		{"7d", "15/03/2024", "Error parsing `date` parameter: invalid_format. Please specify a valid date in ISO-8601 format."},
		{"custom", "", "The `date` parameter is required when using a custom period. See docs/dashboard.md#time-periods"},
		{"custom", "2024-01-01", "Invalid format for `date` parameter. When using a custom period, please include two ISO-8601 formatted dates joined by a comma. See docs/dashboard.md#time-periods"},
		{"custom", "2024-01-01,yesterday", "Invalid format for `date` parameter. When using a custom period, please include two ISO-8601 formatted dates joined by a comma. See docs/dashboard.md#time-periods"},
		{"custom", "2024-01-02,2024-01-01", "Invalid `date` parameter: the custom period ends (2024-01-01) before it starts (2024-01-02)."},
	}
	for _, tt := range tests {
		t.Run(tt.period+"/"+tt.date, func(t *testing.T) {
			_, err := parsePeriod(tt.period, tt.date, today)
			badParam(t, err, tt.want)
		})
	}
}

func TestPreviousPeriod(t *testing.T) {
	today := day("2024-03-15")
	tests := []struct{ period, date, first, last string }{
		{"custom", "2024-03-01,2024-03-02", "2024-02-28", "2024-02-29"},
		{"day", "2024-03-10", "2024-03-09", "2024-03-09"},
		{"7d", "2024-03-15", "2024-03-02", "2024-03-08"},
		// This month so far against as many days before it, as Plausible.
		{"month", "2024-03-15", "2024-02-15", "2024-02-29"},
	}
	for _, tt := range tests {
		p, err := parsePeriod(tt.period, tt.date, today)
		if err != nil {
			t.Fatal(err)
		}
		prev := p.previous(today)
		if got := prev.first.Format(time.DateOnly) + ".." + prev.last.Format(time.DateOnly); got != tt.first+".."+tt.last {
			t.Errorf("previous of %s %s = %s, want %s..%s", tt.period, tt.date, got, tt.first, tt.last)
		}
	}
}

func TestIntervals(t *testing.T) {
	p := func(name, date string) period {
		pp, err := parsePeriod(name, date, day("2024-03-15"))
		if err != nil {
			t.Fatal(err)
		}
		return pp
	}
	tests := []struct {
		p                 period
		raw               string
		want              interval
		buckets           int
		firstLabel, label string
	}{
		{p("day", ""), "", hourly, 24, "2024-03-15 00:00:00", "2024-03-15 23:00:00"},
		{p("7d", ""), "", daily, 7, "2024-03-09", "2024-03-15"},
		{p("7d", ""), "date", daily, 7, "2024-03-09", "2024-03-15"},
		{p("7d", ""), "hour", hourly, 7 * 24, "2024-03-09 00:00:00", "2024-03-15 23:00:00"},
		{p("6mo", ""), "", monthly, 6, "2023-10-01", "2024-03-01"},
		{p("custom", "2024-01-30,2024-03-02"), "month", monthly, 3, "2024-01-01", "2024-03-01"},
		{p("12mo", ""), "date", daily, 366, "2023-04-01", "2024-03-31"},
	}
	for _, tt := range tests {
		iv, err := parseInterval(tt.raw, tt.p)
		if err != nil {
			t.Fatal(err)
		}
		b := iv.buckets(tt.p)
		if iv != tt.want || len(b) != tt.buckets || iv.label(b[0]) != tt.firstLabel || iv.label(b[len(b)-1]) != tt.label {
			t.Errorf("%s interval %q: %s, %d buckets %s..%s; want %s, %d buckets %s..%s", tt.p.name, tt.raw,
				iv, len(b), iv.label(b[0]), iv.label(b[len(b)-1]), tt.want, tt.buckets, tt.firstLabel, tt.label)
		}
	}
	_, err := parseInterval("week", p("30d", ""))
	badParam(t, err, "Error parsing `interval` parameter: invalid interval `week`. Valid intervals are `date`, `hour`, `month`")
	_, err = parseInterval("hour", p("6mo", ""))
	badParam(t, err, "Error parsing `interval` parameter: interval `hour` covers at most 31 days, the period has 183. Use `date` or `month`.")
}

func TestParsePagingAndCompare(t *testing.T) {
	q := func(s string) url.Values {
		v, err := url.ParseQuery(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if l, p, err := parsePaging(q("")); err != nil || l != 100 || p != 1 {
		t.Fatalf("defaults = %d, %d, %v; want 100, 1", l, p, err)
	}
	if l, p, err := parsePaging(q("limit=1000&page=3")); err != nil || l != 1000 || p != 3 {
		t.Fatalf("limit=1000&page=3 = %d, %d, %v", l, p, err)
	}
	for _, bad := range []string{"limit=0", "limit=1001", "limit=ten", "limit="} {
		_, _, err := parsePaging(q(bad))
		badParam(t, err, "Please provide limit as a number between 1 and 1000.")
	}
	for _, bad := range []string{"page=0", "page=-1", "page=x"} {
		_, _, err := parsePaging(q(bad))
		badParam(t, err, "Please provide page as a positive number.")
	}
	if c, err := parseCompare(q("compare=previous_period")); err != nil || !c {
		t.Fatalf("compare=previous_period = %v, %v", c, err)
	}
	_, err := parseCompare(q("compare=year_over_year"))
	badParam(t, err, "Error parsing `compare` parameter: invalid value `year_over_year`. The only comparison is `previous_period`.")
	_, err = parseProperty(q(""))
	badParam(t, err, "The `property` parameter is required. Please provide at least one property to show a breakdown by.")
	_, err = parseProperty(q("property=visit:country"))
	badParam(t, err, "Invalid property 'visit:country'. Please provide a valid property for the breakdown endpoint: docs/dashboard.md#properties")
	if p, err := parseProperty(q("property=event:props:plan")); err != nil || p.key != "plan" || p.visit {
		t.Fatalf("event:props:plan = %+v, %v", p, err)
	}
	if !strings.Contains(msgMissingKey, "Bearer") {
		t.Fatal("the missing-key message must say how to send a key")
	}
}
