package dashboard_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var allMetrics = []string{"visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events"}

// filterCases are filters and what they mean, for the model.
var filterCases = []struct {
	filters string
	cond    cond
}{
	{"event:page==/cart", cond{event: func(e *ev) bool { return e.path == "/cart" }}},
	{"visit:source==Google|Facebook", cond{visit: func(v *visit) bool { return v.origin.source == "Google" || v.origin.source == "Facebook" }}},
	{"visit:source!=Google", cond{visit: func(v *visit) bool { return v.origin.source != "Google" }}},
	{"visit:source==Direct / None", cond{visit: func(v *visit) bool { return v.origin.source == "" }}},
	{"event:page==/p/*", cond{event: func(e *ev) bool { return regexp.MustCompile(`^/p/[^/]*$`).MatchString(e.path) }}},
	{"event:page==/blog/*", cond{event: func(e *ev) bool { return regexp.MustCompile(`^/blog/[^/]*$`).MatchString(e.path) }}},
	{"event:page==/blog/**", cond{event: func(e *ev) bool { return strings.HasPrefix(e.path, "/blog/") }}},
	{"event:page!=/|/cart", cond{event: func(e *ev) bool { return e.path != "/" && e.path != "/cart" }}},
	{"event:props:plan==pro|basic", cond{event: func(e *ev) bool { return e.prop("plan") == "pro" || e.prop("plan") == "basic" }}},
	{"event:search==Humidifier", cond{event: func(e *ev) bool { return e.keywordKey() == "humidifier" }}},
	{"event:click==/cart", cond{event: func(e *ev) bool { return e.clickTarget() == "/cart" }}},
	{"visit:device==mobile;event:name==Checkout|Signup", cond{
		visit: func(v *visit) bool { return v.agent.device == "mobile" },
		event: func(e *ev) bool { return e.eventName() == "Checkout" || e.eventName() == "Signup" }}},
	{"event:name==pageview;visit:browser!=Chrome", cond{
		visit: func(v *visit) bool { return v.agent.browser != "Chrome" },
		event: func(e *ev) bool { return e.eventName() == "pageview" }}},
	{"visit:utm_medium==email;visit:entry_page==/blog/*", cond{visit: func(v *visit) bool {
		entry, _ := v.pages()
		return v.value("utm_medium") == "email" && strings.HasPrefix(entry, "/blog/")
	}}},
}

func TestStatsAPIMatchesTheDataSet(t *testing.T) {
	p := newPipeline(t)
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	d0, d1 := today.AddDate(0, 0, -2), today.AddDate(0, 0, -1)
	visits := dataset(d0, now)
	m := &model{visits: visits, events: build(visits)}
	p.startLoader()
	p.send(visits, false)
	p.loaded()
	p.send(visits, true)
	p.loaded()
	p.rewritten(2)

	ymd := func(t time.Time) string { return t.Format(time.DateOnly) }
	custom := ymd(d0) + "," + ymd(d1)
	from, to := d0, d1.AddDate(0, 0, 1)

	aggregate := func(s sums, metrics []string) map[string]any {
		out := map[string]any{}
		for _, mm := range metrics {
			out[mm] = map[string]any{"value": s.metric(mm, false)}
		}
		return out
	}

	t.Run("aggregate compared with the previous period", func(t *testing.T) {
		got := p.results("/api/v1/stats/aggregate", params("period", "custom", "date", custom,
			"metrics", strings.Join(allMetrics, ","), "compare", "previous_period"))
		now, before := m.sums(from, to, cond{}), m.sums(d0.AddDate(0, 0, -2), d0, cond{})
		want := map[string]any{}
		for _, mm := range allMetrics {
			n, b := now.metric(mm, false).(float64), before.metric(mm, false).(float64)
			want[mm] = map[string]any{"value": n, "comparison_value": b, "change": change(mm, b, n)}
		}
		same(t, "aggregate", got, want)
	})

	t.Run("aggregate by period", func(t *testing.T) {
		month := time.Date(d1.Year(), d1.Month(), 1, 0, 0, 0, 0, time.UTC)
		periods := []struct {
			period, date string
			from, to     time.Time
		}{
			{"day", ymd(d0), d0, d0.AddDate(0, 0, 1)},
			{"day", ymd(d1), d1, d1.AddDate(0, 0, 1)},
			{"7d", ymd(d1), d1.AddDate(0, 0, -6), d1.AddDate(0, 0, 1)},
			{"30d", ymd(d1), d1.AddDate(0, 0, -29), d1.AddDate(0, 0, 1)},
			{"month", ymd(d1), month, month.AddDate(0, 1, 0)},
			{"6mo", ymd(d1), month.AddDate(0, -5, 0), month.AddDate(0, 1, 0)},
			{"12mo", ymd(d1), month.AddDate(0, -11, 0), month.AddDate(0, 1, 0)},
		}
		for _, pp := range periods {
			got := p.results("/api/v1/stats/aggregate", params("period", pp.period, "date", pp.date, "metrics", strings.Join(allMetrics, ",")))
			same(t, "aggregate "+pp.period+" "+pp.date, got, aggregate(m.sums(pp.from, pp.to, cond{}), allMetrics))
		}
		// Without metrics, Plausible answers visitors.
		got := p.results("/api/v1/stats/aggregate", params("period", "custom", "date", custom))
		same(t, "aggregate of default metrics", got, aggregate(m.sums(from, to, cond{}), []string{"visitors"}))
	})

	t.Run("aggregate with filters", func(t *testing.T) {
		metrics := []string{"visitors", "visits", "pageviews", "bounce_rate", "visit_duration", "events"}
		for _, fc := range filterCases {
			got := p.results("/api/v1/stats/aggregate", params("period", "custom", "date", custom,
				"metrics", strings.Join(metrics, ","), "filters", fc.filters))
			same(t, "aggregate filtered by "+fc.filters, got, aggregate(m.sums(from, to, fc.cond), metrics))
		}
	})

	t.Run("timeseries", func(t *testing.T) {
		type bucket struct {
			label    string
			from, to time.Time
		}
		hours := func(first time.Time, days int) []bucket {
			var out []bucket
			for h := first; h.Before(first.AddDate(0, 0, days)); h = h.Add(time.Hour) {
				out = append(out, bucket{h.Format(time.DateTime), h, h.Add(time.Hour)})
			}
			return out
		}
		month := time.Date(d1.Year(), d1.Month(), 1, 0, 0, 0, 0, time.UTC)
		var months []bucket
		for mo := month.AddDate(0, -5, 0); !mo.After(month); mo = mo.AddDate(0, 1, 0) {
			months = append(months, bucket{ymd(mo), mo, mo.AddDate(0, 1, 0)})
		}
		google := filterCases[1].cond
		tests := []struct {
			params  url.Values
			metrics []string
			cond    cond
			buckets []bucket
		}{
			{params("period", "custom", "date", custom, "interval", "date", "metrics", strings.Join(allMetrics, ",")), allMetrics, cond{},
				[]bucket{{ymd(d0), d0, d1}, {ymd(d1), d1, to}}},
			{params("period", "day", "date", ymd(d1), "metrics", "visitors,visits,pageviews,bounce_rate"),
				[]string{"visitors", "visits", "pageviews", "bounce_rate"}, cond{}, hours(d1, 1)},
			{params("period", "custom", "date", custom, "interval", "hour", "filters", "visit:source==Google|Facebook"),
				[]string{"visitors"}, google, hours(d0, 2)},
			{params("period", "6mo", "date", ymd(d1), "metrics", "visitors,pageviews,visits"),
				[]string{"visitors", "pageviews", "visits"}, cond{}, months},
		}
		for _, tt := range tests {
			var want []any
			for _, b := range tt.buckets {
				row := map[string]any{"date": b.label}
				s := m.sums(b.from, b.to, tt.cond)
				for _, mm := range tt.metrics {
					row[mm] = s.metric(mm, false)
				}
				want = append(want, row)
			}
			got := p.results("/api/v1/stats/timeseries", tt.params)
			same(t, "timeseries "+tt.params.Encode(), got, want)
		}
	})

	t.Run("breakdown by every property", func(t *testing.T) {
		visitMetrics := []string{"visitors", "visits", "pageviews", "bounce_rate", "visit_duration"}
		props := map[string][]string{
			"event:page":       {"visitors", "pageviews", "events", "visits", "bounce_rate", "visit_duration"},
			"event:name":       {"visitors", "events", "pageviews"},
			"event:search":     nil, // Footfall's default: visitors, events, zero_results
			"event:click":      {"events", "visitors"},
			"event:props:plan": {"visitors", "events"},
		}
		for _, name := range []string{"entry_page", "exit_page", "source", "referrer", "channel", "utm_medium", "utm_source",
			"utm_campaign", "utm_content", "utm_term", "browser", "os", "device"} {
			props["visit:"+name] = visitMetrics
		}
		props["visit:source"] = []string{"bounce_rate", "visitors", "visit_duration"}
		for _, prop := range sortedKeys(props) {
			metrics := props[prop]
			q := params("period", "custom", "date", custom, "property", prop)
			if metrics == nil {
				metrics = []string{"visitors", "events", "zero_results"}
			} else {
				q.Set("metrics", strings.Join(metrics, ","))
			}
			got := p.results("/api/v1/stats/breakdown", q)
			want := m.breakdown(prop, metrics, from, to, cond{}, 100, 1)
			same(t, "breakdown by "+prop, got, toAny(want))
			if prop != "event:props:plan" && len(want) == 0 {
				t.Errorf("breakdown by %s is empty: the data set should cover it", prop)
			}
		}
	})

	t.Run("breakdown pages and filters", func(t *testing.T) {
		tests := []struct {
			prop, filters string
			metrics       []string
			limit, page   int
		}{
			{"event:page", "", []string{"visitors", "pageviews"}, 2, 2},
			{"event:page", "", []string{"pageviews"}, 3, 1},
			{"visit:browser", "", []string{"visitors"}, 2, 3},
			{"event:page", "visit:source==Google|Facebook", []string{"visitors", "pageviews", "bounce_rate"}, 100, 1},
			{"visit:source", "event:page==/cart", []string{"visitors", "visits", "bounce_rate"}, 100, 1},
			{"event:name", "visit:device==mobile", []string{"visitors", "events"}, 100, 1},
			{"event:search", "visit:source!=Google", []string{"visitors", "events", "zero_results"}, 100, 1},
			{"visit:exit_page", "event:search==humidifier", []string{"visits", "visitors"}, 100, 1},
			{"event:props:plan", "visit:source==Direct / None", []string{"events"}, 100, 1},
		}
		for _, tt := range tests {
			c := cond{}
			for _, fc := range filterCases {
				if fc.filters == tt.filters {
					c = fc.cond
				}
			}
			if tt.filters == "visit:device==mobile" {
				c = cond{visit: func(v *visit) bool { return v.agent.device == "mobile" }}
			}
			if tt.filters == "event:search==humidifier" {
				c = cond{event: func(e *ev) bool { return e.keywordKey() == "humidifier" }}
			}
			q := params("period", "custom", "date", custom, "property", tt.prop, "metrics", strings.Join(tt.metrics, ","),
				"limit", strconv.Itoa(tt.limit), "page", strconv.Itoa(tt.page), "filters", tt.filters)
			got := p.results("/api/v1/stats/breakdown", q)
			same(t, "breakdown "+q.Encode(), got, toAny(m.breakdown(tt.prop, tt.metrics, from, to, c, tt.limit, tt.page)))
		}
	})

	t.Run("funnel", func(t *testing.T) {
		isPage := func(path string) func(*ev) bool { return func(e *ev) bool { return e.path == path } }
		tests := []struct {
			steps, filters string
			cond           cond
			labels         []string
			match          []func(*ev) bool
		}{
			{"event:page==/|event:page==/cart|event:name==Checkout", "", cond{},
				[]string{"event:page==/", "event:page==/cart", "event:name==Checkout"},
				[]func(*ev) bool{isPage("/"), isPage("/cart"), func(e *ev) bool { return e.eventName() == "Checkout" }}},
			{"event:page==/p/*|event:search==humidifier|event:page==/", "visit:source==Google|Facebook", filterCases[1].cond,
				[]string{"event:page==/p/*", "event:search==humidifier", "event:page==/"},
				[]func(*ev) bool{func(e *ev) bool { return strings.HasPrefix(e.path, "/p/") }, func(e *ev) bool { return e.keywordKey() == "humidifier" }, isPage("/")}},
		}
		for _, tt := range tests {
			got := p.results("/api/v1/stats/funnel", params("period", "custom", "date", custom, "steps", tt.steps, "filters", tt.filters))
			same(t, "funnel "+tt.steps, got, m.funnel(from, to, tt.cond, tt.labels, tt.match))
		}
	})

	t.Run("retention", func(t *testing.T) {
		first := d0.AddDate(0, 0, -14)
		got := p.results("/api/v1/stats/retention", params("period", "custom", "date", ymd(first)+","+ymd(d1)))
		same(t, "retention", got, m.retention(first, d1))
	})

	t.Run("realtime visitors", func(t *testing.T) {
		asked := time.Now()
		status, got := p.get("/api/v1/stats/realtime/visitors", params("site_id", site), statsKey)
		s := m.sums(asked.Add(-5*time.Minute), asked.Add(time.Hour), cond{})
		if status != http.StatusOK || got != float64(s.visitors) || s.visitors == 0 {
			t.Fatalf("realtime visitors = %d %v, want %d", status, got, s.visitors)
		}
	})

	t.Run("keys and parameters", func(t *testing.T) {
		q := params("site_id", site, "period", "custom", "date", custom)
		for _, key := range []string{"", otherKey, "sk_unknown"} {
			status, body := p.get("/api/v1/stats/aggregate", q, key)
			if status != http.StatusUnauthorized || !strings.Contains(errorOf(body), "API key") {
				t.Errorf("key %q: %d %v, want 401 naming the API key", key, status, body)
			}
		}
		bad := []struct{ param, query string }{
			{"period", "period=weekly"},
			{"date", "period=day&date=yesterday"},
			{"date", "period=custom&date=" + ymd(d1)},
			{"metrics", "metrics=visitors,clicks"},
			{"property", "property=visit:planet"},
			{"filters", "filters=visit:source=Google"},
			{"interval", "interval=fortnight"},
		}
		for _, b := range bad {
			extra, _ := url.ParseQuery(b.query)
			qq := params("site_id", site, "property", "visit:source")
			for k, v := range extra {
				qq[k] = v
			}
			path := "/api/v1/stats/timeseries"
			if b.param == "property" || b.param == "filters" {
				path = "/api/v1/stats/breakdown"
			}
			status, body := p.get(path, qq, statsKey)
			msg := errorOf(body)
			if status != http.StatusBadRequest || !(strings.Contains(msg, b.param) || b.param == "metrics" && strings.Contains(msg, "metric")) {
				t.Errorf("%s?%s = %d %q, want 400 naming %s", path, b.query, status, msg, b.param)
			}
		}
	})
}

func errorOf(body any) string {
	if m, ok := body.(map[string]any); ok {
		s, _ := m["error"].(string)
		return s
	}
	return ""
}

func toAny(rows []map[string]any) []any {
	out := []any{}
	for _, r := range rows {
		out = append(out, r)
	}
	return out
}
