package dashboard

import (
	"fmt"
	"slices"
)

// Queries over the rollups: events_hourly and sessions_hourly, kept by
// materialized views (migrations/clickhouse/0002_reporting.sql). They
// answer every report without filters, so the default dashboard never
// scans raw events. Their sort key is (site_id, dimension, value, lvl,
// hour): each query names its site, a dimension and a range of hours.
// These statements read the sums; unique visitors are counted apart (see
// visitors.go), since they cost a hundred times more.

// rollupSelect starts a statement on a rollup with the grouping's bucket
// and value columns, and returns the rollup dimension it groups by (empty for
// the site's total).
func rollupSelect(g grouping) (*stmt, string) {
	st := &stmt{}
	st.add("SELECT ")
	if g.iv != "" {
		st.add(g.iv.bucketSQL("hour") + " AS bucket, ")
	}
	if g.prop == nil {
		return st, ""
	}
	st.add("value, ")
	return st, g.prop.dim
}

var rollupEventSQL = map[string]string{
	"n_pageviews":    "toInt64(sumMerge(pageviews))",
	"n_events":       "toInt64(countMerge(events))",
	"n_zero_results": "toInt64(sumMerge(zero_results))",
}

// rollupEvents selects event sums from events_hourly.
func rollupEvents(s scope, g grouping, cols []string) *stmt {
	st, dim := rollupSelect(g)
	st.add(selectList(rollupEventSQL, cols))
	st.add(fmt.Sprintf(" FROM events_hourly WHERE site_id = ? AND dimension = '%s' AND hour >= ? AND hour < ?", dim), s.site, s.from, s.to)
	st.groupBy(g)
	return st
}

var rollupVisitSQL = map[string]string{
	"n_visits":          "toInt64(sumMerge(visits))",
	"n_bounces":         "toInt64(sumMerge(bounces))",
	"n_duration":        "toInt64(sumMerge(duration))",
	"n_visit_pageviews": "toInt64(sumMerge(pageviews))",
}

// rollupVisits selects visit sums from sessions_hourly. A visit that
// changed is there twice with opposite signs, so its old row nets out of
// every sum; a value whose visits net to nothing is left out of a
// breakdown.
func rollupVisits(s scope, g grouping, cols []string) *stmt {
	st, dim := rollupSelect(g)
	if !slices.Contains(cols, "n_visits") {
		cols = append([]string{"n_visits"}, cols...)
	}
	st.add(selectList(rollupVisitSQL, cols))
	st.add(fmt.Sprintf(" FROM sessions_hourly WHERE site_id = ? AND dimension = '%s' AND hour >= ? AND hour < ?", dim), s.site, s.from, s.to)
	if len(g.only) > 0 {
		st.add(" AND ")
		inList(st, "value", g.only)
	}
	if g.prop != nil && !g.prop.keepsEmpty() {
		st.add(" AND value != ''")
	}
	having := ""
	if g.prop != nil {
		having = "n_visits > 0"
	}
	st.groupByHaving(g, having)
	return st
}
