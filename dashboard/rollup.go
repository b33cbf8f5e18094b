package dashboard

import (
	"fmt"
)

// Queries over the rollups: events_hourly and sessions_hourly, kept by
// materialized views (migrations/clickhouse/0002_reporting.sql). They
// answer every report without filters, so the default dashboard never
// scans raw events. Their sort key is (site_id, dimension, hour, value):
// each query names its site, one or two dimensions and a range of hours.

var rollupEventSQL = map[string]string{
	"n_visitors":     "toInt64(uniqMerge(visitors))",
	"n_pageviews":    "toInt64(sumMerge(pageviews))",
	"n_events":       "toInt64(countMerge(events))",
	"n_zero_results": "toInt64(sumMerge(zero_results))",
}

// rollupEvents selects event figures from events_hourly.
func rollupEvents(s scope, g grouping, cols []string) *stmt {
	st := &stmt{}
	st.add("SELECT ")
	if g.iv != "" {
		st.add(g.iv.bucketSQL("hour") + " AS bucket, ")
	}
	dims := "dimension = ''"
	if g.prop != nil {
		switch g.prop.name {
		case "event:name":
			// Pageviews join the custom events under the name
			// "pageview": merging the states of every page's row counts
			// each visitor once.
			st.add("if(dimension = 'page', 'pageview', value) AS value, ")
			dims = "dimension IN ('name', 'page')"
		default:
			st.add("value, ")
			dims = fmt.Sprintf("dimension = '%s'", g.prop.dim)
		}
	}
	st.add(selectList(rollupEventSQL, cols))
	st.add(" FROM events_hourly WHERE site_id = ? AND "+dims+" AND hour >= ? AND hour < ?", s.site, s.from, s.to)
	if len(g.only) > 0 {
		st.add(" AND has(?, value)", g.only)
	}
	st.groupBy(g)
	return st
}

// rollupVisitInner are the sums of one hour's row of sessions_hourly;
// rollupVisitSQL adds them up over hours.
var (
	rollupVisitInner = map[string]string{
		"n_visits":          "sumMerge(visits) AS v",
		"n_bounces":         "sumMerge(bounces) AS b",
		"n_duration":        "sumMerge(duration) AS d",
		"n_visit_pageviews": "sumMerge(pageviews) AS p",
		"n_visit_visitors":  "uniqIfMergeState(visitors) AS u",
	}
	rollupVisitSQL = map[string]string{
		"n_visits":          "toInt64(sum(v))",
		"n_bounces":         "toInt64(sum(b))",
		"n_duration":        "toInt64(sum(d))",
		"n_visit_pageviews": "toInt64(sum(p))",
		"n_visit_visitors":  "toInt64(uniqIfMerge(u))",
	}
)

// rollupVisits selects visit figures from sessions_hourly. A visit that
// changed is there twice with opposite signs, so its old row nets out;
// an hour's row whose visits net to nothing holds only such pairs and is
// dropped before its visitors are counted.
func rollupVisits(s scope, g grouping, cols []string) *stmt {
	st := &stmt{}
	st.add("SELECT ")
	if g.iv != "" {
		st.add(g.iv.bucketSQL("hour") + " AS bucket, ")
	}
	if g.prop != nil {
		st.add("value, ")
	}
	st.add(selectList(rollupVisitSQL, cols))
	st.add(" FROM (SELECT hour, value, " + rollupVisitInner["n_visits"])
	for _, c := range cols {
		if c != "n_visits" {
			st.add(", " + rollupVisitInner[c])
		}
	}
	dim := ""
	if g.prop != nil {
		dim = g.prop.dim
	}
	st.add(fmt.Sprintf(" FROM sessions_hourly WHERE site_id = ? AND dimension = '%s' AND hour >= ? AND hour < ?", dim), s.site, s.from, s.to)
	if len(g.only) > 0 {
		st.add(" AND has(?, value)", g.only)
	}
	st.add(" GROUP BY hour, value HAVING v > 0)")
	if g.prop != nil && !g.prop.keepsEmpty() {
		st.add(" WHERE value != ''")
	}
	st.groupBy(g)
	return st
}
