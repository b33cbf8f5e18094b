package dashboard

import (
	"math"
	"slices"
	"strings"
)

// metric is a figure the Stats API reports.
type metric string

const (
	visitors      metric = "visitors"
	visits        metric = "visits"
	pageviews     metric = "pageviews"
	viewsPerVisit metric = "views_per_visit"
	bounceRate    metric = "bounce_rate"
	visitDuration metric = "visit_duration"
	events        metric = "events"
	// zeroResults is Footfall's: searches that found nothing, in a
	// breakdown by event:search.
	zeroResults metric = "zero_results"
)

var knownMetrics = []metric{visitors, visits, pageviews, viewsPerVisit, bounceRate, visitDuration, events, zeroResults}

// ofVisits are computed over visits (sessions) rather than events.
func (m metric) ofVisits() bool {
	return m == visits || m == viewsPerVisit || m == bounceRate || m == visitDuration
}

// parseMetrics reads the metrics parameter (def when absent) and checks
// each metric fits the report, with Plausible's messages.
func parseMetrics(raw string, present bool, def string, prop *property, filters []filter) ([]metric, error) {
	if !present {
		raw = def
	}
	var out []metric
	seen := map[metric]bool{}
	for _, name := range strings.Split(raw, ",") {
		m := metric(strings.TrimSpace(name))
		if seen[m] {
			return nil, badRequest("Metrics cannot be queried multiple times.")
		}
		seen[m] = true
		if err := m.check(prop, filters); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (m metric) check(prop *property, filters []filter) error {
	switch {
	case !slices.Contains(knownMetrics, m):
		return badRequest("The metric `%s` is not recognized. Find valid metrics in %s#metrics", m, docsPage)
	case m == zeroResults && (prop == nil || prop.name != "event:search"):
		return badRequest("Metric `%s` can only be queried in a breakdown by `event:search`.", m)
	case m == viewsPerVisit && hasFilterOn(filters, "event:page"):
		return badRequest("Metric `%s` cannot be queried with a filter on `event:page`.", m)
	case m == viewsPerVisit && prop != nil:
		return badRequest("Metric `%s` is not supported in breakdown queries.", m)
	case m.ofVisits() && prop != nil && prop.eventOnly():
		return badRequest("Session metric `%s` cannot be queried for breakdown by `%s`.", m, prop.name)
	case m == events && prop != nil && prop.visit:
		// sessions_hourly keeps no event count per visit.
		return badRequest("Metric `%s` is not supported in breakdown by `%s`; break down by an event property instead.", m, prop.name)
	}
	return nil
}

// tally holds the sums a row of results is computed from. Event sums come
// from events (or events_hourly), visit sums from sessions (or
// sessions_hourly).
type tally struct {
	visitors, pageviews, events, zeroResults int64
	visits, bounces, duration                int64
	visitPageviews, visitVisitors            int64
}

// columns name the tally's fields as queries select them.
func (t *tally) columns() map[string]*int64 {
	return map[string]*int64{
		"n_visitors": &t.visitors, "n_pageviews": &t.pageviews, "n_events": &t.events, "n_zero_results": &t.zeroResults,
		"n_visits": &t.visits, "n_bounces": &t.bounces, "n_duration": &t.duration,
		"n_visit_pageviews": &t.visitPageviews, "n_visit_visitors": &t.visitVisitors,
	}
}

func (t *tally) add(o tally) {
	t.visitors += o.visitors
	t.pageviews += o.pageviews
	t.events += o.events
	t.zeroResults += o.zeroResults
	t.visits += o.visits
	t.bounces += o.bounces
	t.duration += o.duration
	t.visitPageviews += o.visitPageviews
	t.visitVisitors += o.visitVisitors
}

// value is metric m of the tally. In a breakdown by a visit property
// every figure is a visit's, visitors and pageviews too.
func (t tally) value(m metric, byVisit bool) any {
	switch m {
	case visitors:
		if byVisit {
			return t.visitVisitors
		}
		return t.visitors
	case pageviews:
		if byVisit {
			return t.visitPageviews
		}
		return t.pageviews
	case events:
		return t.events
	case zeroResults:
		return t.zeroResults
	case visits:
		return t.visits
	case viewsPerVisit:
		return round2(ratio(t.visitPageviews, t.visits))
	case bounceRate:
		return int64(math.Round(100 * ratio(t.bounces, t.visits)))
	case visitDuration:
		return int64(math.Round(ratio(t.duration, t.visits)))
	}
	return nil
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// round2 rounds to two decimals, half away from zero, as Elixir does.
func round2(x float64) float64 { return math.Round(x*100) / 100 }

// change is how metric m moved from old to now, as Plausible reports it:
// percentage points for bounce_rate (none when there was no bounce rate
// before), otherwise a whole percent, 100 when it grew from nothing.
func change(m metric, old, now any) any {
	o, n := toFloat(old), toFloat(now)
	if m == bounceRate {
		if o <= 0 {
			return nil
		}
		return int64(n - o)
	}
	switch {
	case o == 0 && n > 0:
		return int64(100)
	case o == 0:
		return int64(0)
	}
	return int64(math.Round((n - o) / o * 100))
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	}
	return 0
}
