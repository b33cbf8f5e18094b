package dashboard

import (
	"reflect"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	prop := func(name string) *property {
		p, ok := lookupProperty(name)
		if !ok {
			t.Fatalf("no property %s", name)
		}
		return &p
	}
	filters := func(raw string) []filter {
		fs, err := parseFilters(raw)
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	ms, err := parseMetrics("visitors,bounce_rate, visit_duration", true, "", nil, nil)
	if err != nil || !reflect.DeepEqual(ms, []metric{visitors, bounceRate, visitDuration}) {
		t.Fatalf("metrics = %v, %v", ms, err)
	}
	if ms, err := parseMetrics("", false, defaultMetrics(prop("event:search")), prop("event:search"), nil); err != nil ||
		!reflect.DeepEqual(ms, []metric{visitors, events, zeroResults}) {
		t.Fatalf("event:search default metrics = %v, %v", ms, err)
	}
	// Session metrics of a page are those of the visits entering on it.
	if _, err := parseMetrics("visitors,bounce_rate,visits,visit_duration", true, "", prop("event:page"), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		raw     string
		prop    *property
		filters []filter
		want    string
	}{
		{"visitors,visitors", nil, nil, "Metrics cannot be queried multiple times."},
		{"visitors,time_on_page", nil, nil, "The metric `time_on_page` is not recognized. Find valid metrics in docs/dashboard.md#metrics"},
		{"", nil, nil, "The metric `` is not recognized. Find valid metrics in docs/dashboard.md#metrics"},
		{"views_per_visit", nil, filters("event:page==/"), "Metric `views_per_visit` cannot be queried with a filter on `event:page`."},
		{"views_per_visit", prop("visit:source"), nil, "Metric `views_per_visit` is not supported in breakdown queries."},
		{"bounce_rate", prop("event:name"), nil, "Session metric `bounce_rate` cannot be queried for breakdown by `event:name`."},
		{"visits", prop("event:props:plan"), nil, "Session metric `visits` cannot be queried for breakdown by `event:props:plan`."},
		{"zero_results", prop("event:page"), nil, "Metric `zero_results` can only be queried in a breakdown by `event:search`."},
		{"events", prop("visit:source"), nil, "Metric `events` is not supported in breakdown by `visit:source`; break down by an event property instead."},
	}
	for _, tt := range tests {
		_, err := parseMetrics(tt.raw, true, "", tt.prop, tt.filters)
		badParam(t, err, tt.want)
	}
}

func TestTallyValues(t *testing.T) {
	tl := tally{visitors: 7, pageviews: 20, events: 31, visits: 8, bounces: 3, duration: 1001, visitPageviews: 19, visitVisitors: 6}
	want := map[metric]any{
		visitors: int64(7), pageviews: int64(20), events: int64(31), visits: int64(8),
		bounceRate: int64(38), visitDuration: int64(125), viewsPerVisit: 2.38,
	}
	for m, w := range want {
		if got := tl.value(m, false); got != w {
			t.Errorf("%s = %v (%T), want %v", m, got, got, w)
		}
	}
	if tl.value(visitors, true) != int64(6) || tl.value(pageviews, true) != int64(19) {
		t.Error("a visit breakdown counts visitors and pageviews over visits")
	}
	var empty tally
	if empty.value(bounceRate, false) != int64(0) || empty.value(viewsPerVisit, false) != 0.0 {
		t.Error("rates of no visits are 0")
	}
}

func TestChange(t *testing.T) {
	tests := []struct {
		m        metric
		old, now any
		want     any
	}{
		{visitors, int64(10), int64(15), int64(50)},
		{visitors, int64(3), int64(2), int64(-33)},
		{visitors, int64(0), int64(5), int64(100)},
		{visitors, int64(0), int64(0), int64(0)},
		{viewsPerVisit, 2.0, 2.5, int64(25)},
		{bounceRate, int64(40), int64(55), int64(15)},
		{bounceRate, int64(0), int64(55), nil},
	}
	for _, tt := range tests {
		if got := change(tt.m, tt.old, tt.now); got != tt.want {
			t.Errorf("change of %s %v -> %v = %v, want %v", tt.m, tt.old, tt.now, got, tt.want)
		}
	}
}
