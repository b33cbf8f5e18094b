package dashboard

import (
	"time"
)

// Queries over the raw tables, events and sessions, for reports with
// filters (and custom props, which no rollup keeps). Every figure leaves
// bots out. An event filter applies to events as it stands; on a visit
// figure it keeps the visits that have a matching event. A visit filter
// applies to visits as it stands; on an event figure it keeps the events
// of matching visits.

// visitLookback is how long a visit lasts at most: the loader looks back
// as far for a visit's earlier events. A visit that started up to this
// long before a period may have events in it, and one that started in it
// may have events up to this long after it.
const visitLookback = 24 * time.Hour

var rawEventSQL = map[string]string{
	"n_visitors":     "toInt64(uniq(" + visitorExpr + "))",
	"n_pageviews":    "toInt64(uniqExactIf(id, type = 'pageview'))",
	"n_events":       "toInt64(uniqExact(id))",
	"n_zero_results": "toInt64(uniqExactIf(id, type = 'search' AND search_results = 0))",
}

// rawEvents selects event figures from events.
func rawEvents(s scope, g grouping, cols []string) *stmt {
	st := &stmt{}
	st.add("SELECT ")
	if g.iv != "" {
		st.add(g.iv.bucketSQL("time") + " AS bucket, ")
	}
	if g.prop != nil {
		st.add(g.prop.expr+" AS value, ", g.prop.arg...)
	}
	st.add(selectList(rawEventSQL, cols) + " FROM events WHERE ")
	eventWhere(st, s, s.from, s.to)
	if g.prop != nil {
		st.add(" AND "+g.prop.rows, g.prop.rowArgs()...)
		st.add(" AND value != ''")
	}
	st.groupBy(g)
	return st
}

// eventWhere narrows events to the site's, from <= time < to, no bots,
// and the filters: event filters as they stand, visit filters through the
// visits that match them.
func eventWhere(st *stmt, s scope, from, to time.Time) {
	st.add("site_id = ? AND time >= ? AND time < ? AND bot = 0", s.site, from, to)
	evs, vis := split(s.filters)
	for _, f := range evs {
		sql, args := f.condition()
		st.add(" AND "+sql, args...)
	}
	if len(vis) > 0 {
		st.add(" AND session_id IN (SELECT session_id FROM sessions WHERE site_id = ? AND start >= ? AND start < ?",
			s.site, from.Add(-visitLookback), to)
		for _, f := range vis {
			sql, args := f.condition()
			st.add(" AND "+sql, args...)
		}
		st.add(" GROUP BY session_id HAVING sum(sign) > 0)")
	}
}

var rawVisitSQL = map[string]string{
	"n_visits":          "toInt64(count())",
	"n_bounces":         "toInt64(sum(is_bounce))",
	"n_duration":        "toInt64(sum(duration))",
	"n_visit_pageviews": "toInt64(sum(pageviews))",
	"n_visit_visitors":  "toInt64(uniq(visitor))",
}

// rawVisits selects visit figures from sessions. The inner query keeps
// each visit's live row: a changed visit's old row is there with +1 and
// -1 and sums to nothing, its new row sums to 1, whatever ClickHouse has
// merged yet.
func rawVisits(s scope, g grouping, cols []string) *stmt {
	st := &stmt{}
	st.add("SELECT ")
	if g.iv != "" {
		st.add(g.iv.bucketSQL("start") + " AS bucket, ")
	}
	if g.prop != nil {
		st.add("value, ")
	}
	st.add(selectList(rawVisitSQL, cols) + " FROM (")
	liveVisits(st, s, g.prop)
	if len(g.only) > 0 {
		st.add(" AND has(?, "+g.prop.expr+")", g.only)
	}
	st.add(" GROUP BY session_id, visitor, start, duration, pageviews, is_bounce")
	if g.prop != nil {
		st.add(", value")
	}
	st.add(" HAVING sum(sign) > 0)")
	if g.prop != nil && !g.prop.keepsEmpty() {
		st.add(" WHERE value != ''")
	}
	st.groupBy(g)
	return st
}

// liveVisits starts the inner query of visit figures: the rows of
// sessions of the scope, its property's value as value, before GROUP BY.
func liveVisits(st *stmt, s scope, prop *property) {
	st.add("SELECT session_id, visitor, start, duration, pageviews, is_bounce")
	if prop != nil {
		st.add(", " + prop.expr + " AS value")
	}
	st.add(" FROM sessions WHERE ")
	visitWhere(st, s)
}

// visitWhere narrows sessions to the site's visits that started in the
// scope and match its filters: visit filters as they stand, event filters
// through the events of the visit.
func visitWhere(st *stmt, s scope) {
	st.add("site_id = ? AND start >= ? AND start < ?", s.site, s.from, s.to)
	evs, vis := split(s.filters)
	for _, f := range vis {
		sql, args := f.condition()
		st.add(" AND "+sql, args...)
	}
	if len(evs) > 0 {
		st.add(" AND session_id IN (SELECT session_id FROM events WHERE site_id = ? AND time >= ? AND time < ? AND bot = 0",
			s.site, s.from, s.to.Add(visitLookback))
		for _, f := range evs {
			sql, args := f.condition()
			st.add(" AND "+sql, args...)
		}
		st.add(")")
	}
}

// realtimeVisitors counts the visitors of the last minutes, as
// Plausible's current visitors.
func realtimeVisitors(site string, since time.Time) *stmt {
	st := &stmt{}
	return st.add("SELECT toInt64(uniq("+visitorExpr+")) AS n_visitors FROM events WHERE site_id = ? AND time >= ? AND bot = 0", site, since)
}
