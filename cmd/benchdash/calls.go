package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// window is the period the calls ask for, as the dashboard reads
// period=30d: the last 30 UTC days, today included, and the 30 before
// them for compare=previous_period.
type window struct {
	site               string
	prevFrom, from, to time.Time
}

func windowOf(site string, now time.Time, days int) window {
	today := now.UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, 1-days)
	return window{site: site, prevFrom: from.AddDate(0, 0, -days), from: from, to: today.AddDate(0, 0, 1)}
}

// call is one Stats API request of the dashboard page and the SQL that
// computes the same figures from the raw events table alone: bots left
// out, ids counted with uniqExact, visitors with uniq as the API counts
// them, rows ranked as the API ranks them, no rollups. That SQL is the
// baseline.
type call struct {
	name   string
	when   when
	path   string
	params url.Values
	raw    func(w window) (string, []any)
}

// when the page makes a call.
type when string

const (
	onLoad  when = "yes" // every load of the default page
	onTab   when = "tab" // a click on a panel's tab
	withURL when = "url" // only when the address asks for it (funnel=)
)

// visitor is who an event counts for, as the loader and the rollups say.
const visitor = "if(anonymous_id != '', anonymous_id, user_id)"

// scope is the WHERE of every baseline query over the period.
func scope(w window, from time.Time) (string, []any) {
	return "site_id = ? AND bot = 0 AND time >= ? AND time < ?", []any{w.site, from, w.to}
}

// eventBreakdown groups events of one type by expr, ranked by their count
// (rank: events) or their pageviews, as the API ranks a breakdown asked
// for visitors first.
func eventBreakdown(types, expr, rank string, limit int) func(window) (string, []any) {
	return func(w window) (string, []any) {
		where, args := scope(w, w.from)
		cols := "uniq(" + visitor + ") AS visitors, uniqExact(id) AS " + rank
		if strings.Contains(types, "search") {
			cols += ", uniqExactIf(id, search_results = 0) AS zero_results"
		}
		return fmt.Sprintf(`SELECT %s AS value, %s FROM events WHERE %s AND type IN (%s) AND value != ''
			GROUP BY value ORDER BY %s DESC, value LIMIT %d`, expr, cols, where, types, rank, limit), args
	}
}

// visitBreakdown builds each visit from its events (the first event's
// referrer and tags, the first and last page) and groups visits by expr
// over those columns, ranked by visits as the API ranks them; withVisitors
// counts each value's visitors too.
func visitBreakdown(expr string, withVisitors bool, limit int) func(window) (string, []any) {
	return func(w window) (string, []any) {
		where, args := scope(w, w.from)
		cols := "count() AS visits"
		if withVisitors {
			cols += ", uniq(visitor) AS visitors"
		}
		return fmt.Sprintf(`SELECT %s AS value, %s FROM (
				SELECT session_id, any(%s) AS visitor,
					argMinIf(page_path, (ts, id), type = 'pageview') AS entry_page,
					argMaxIf(page_path, (ts, id), type = 'pageview') AS exit_page,
					argMin(page_referrer, (ts, id)) AS referrer,
					argMin(page_url, (ts, id)) AS landing,
					argMin(utm_source, (ts, id)) AS utm_source,
					argMin(utm_medium, (ts, id)) AS utm_medium,
					toString(argMin(browser, (ts, id))) AS browser,
					toString(argMin(os, (ts, id))) AS os,
					toString(argMin(device, (ts, id))) AS device
				FROM events WHERE %s AND session_id != '' GROUP BY session_id)
			GROUP BY value ORDER BY visits DESC, value LIMIT %d`, expr, cols, visitor, where, limit), args
	}
}

// source and channel approximate the loader's referrer-parser rules with
// the referrer's domain and the UTM tags: the same rows are read and
// grouped, which is what the baseline is for.
const (
	source  = "if(referrer != '', domainWithoutWWW(referrer), utm_source)"
	channel = `multiIf(
		utm_medium IN ('email', 'newsletter') OR match(referrer, '^https?://(mail\\.google|outlook\\.live)\\.'), 'Email',
		utm_medium = 'social' OR match(referrer, '^https?://([a-z]+\\.)?(facebook|instagram|t|pinterest|reddit|x)\\.(com|co)/'), 'Social',
		match(utm_medium, 'cp|ppc|paid') OR position(landing, 'gclid=') > 0, 'Paid Search',
		match(referrer, '^https?://([a-z]+\\.)?(google|bing|duckduckgo|yahoo|ecosia)\\.'), 'Organic Search',
		referrer != '', 'Referral', 'Direct')`
)

// rows is how many rows a list panel asks for (dashboard/web ROWS).
const rows = 9

func params(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func breakdown(property, metrics string, limit int) url.Values {
	return params("period", "30d", "property", property, "metrics", metrics, "limit", fmt.Sprint(limit))
}

// calls is every request of the dashboard page (dashboard/web/src: the
// cards, the chart, the first tab of each list panel, the realtime count),
// then the other tabs' breakdowns and the funnel, which the page shows
// only when its address names the steps.
var calls = []call{
	{name: "aggregate (6 metrics, compare)", when: onLoad, path: "aggregate",
		params: params("period", "30d", "metrics", "visitors,visits,pageviews,views_per_visit,bounce_rate,visit_duration", "compare", "previous_period"),
		raw: func(w window) (string, []any) {
			where, args := scope(w, w.prevFrom)
			return `SELECT current, uniq(visitor), count(), sum(pageviews), sum(pageviews) / count(),
					round(100 * avg(bounce)), round(avg(duration))
				FROM (
					SELECT time >= ? AS current, session_id, any(` + visitor + `) AS visitor,
						uniqExactIf(id, type = 'pageview') AS pageviews,
						uniqExactIf(id, type IN ('click', 'search', 'form_submit', 'custom')) AS interactions,
						pageviews <= 1 AND interactions = 0 AS bounce,
						max(time) - min(time) AS duration
					FROM events WHERE ` + where + ` AND session_id != '' GROUP BY current, session_id)
				GROUP BY current`, append([]any{w.from}, args...)
		}},
	{name: "timeseries visitors", when: onLoad, path: "timeseries", params: params("period", "30d", "metrics", "visitors"),
		raw: func(w window) (string, []any) {
			where, args := scope(w, w.from)
			return `SELECT toDate(time) AS date, uniq(` + visitor + `) FROM events WHERE ` + where + ` GROUP BY date ORDER BY date`, args
		}},
	{name: "breakdown visit:channel", when: onLoad, path: "breakdown", params: breakdown("visit:channel", "visitors", rows), raw: visitBreakdown(channel, true, rows)},
	{name: "breakdown event:page", when: onLoad, path: "breakdown", params: breakdown("event:page", "visitors", rows),
		raw: eventBreakdown("'pageview'", "page_path", "pageviews", rows)},
	{name: "breakdown visit:device", when: onLoad, path: "breakdown", params: breakdown("visit:device", "visitors", rows), raw: visitBreakdown("device", true, rows)},
	{name: "breakdown event:search", when: onLoad, path: "breakdown", params: breakdown("event:search", "visitors,events,zero_results", rows),
		raw: eventBreakdown("'search'", `lower(replaceRegexpAll(search_keyword, '^\\s+|\\s+$', ''))`, "events", rows)},
	{name: "breakdown event:click", when: onLoad, path: "breakdown", params: breakdown("event:click", "visitors,events", rows),
		raw: eventBreakdown("'click'", "if(click_href != '', click_href, click_text)", "events", rows)},
	{name: "breakdown event:name", when: onLoad, path: "breakdown", params: breakdown("event:name", "visitors,events", rows+1),
		raw: eventBreakdown("'pageview', 'custom'", "if(type = 'custom', name, 'pageview')", "events", rows+1)},
	{name: "realtime visitors", when: onLoad, path: "realtime/visitors", params: params(),
		raw: func(w window) (string, []any) {
			return `SELECT uniq(` + visitor + `) FROM events WHERE site_id = ? AND bot = 0 AND time >= now() - 300`, []any{w.site}
		}},
	{name: "breakdown visit:source", when: onTab, path: "breakdown", params: breakdown("visit:source", "visitors", rows), raw: visitBreakdown(source, true, rows)},
	{name: "breakdown visit:utm_medium", when: onTab, path: "breakdown", params: breakdown("visit:utm_medium", "visitors", rows), raw: visitBreakdown("utm_medium", true, rows)},
	{name: "breakdown visit:utm_source", when: onTab, path: "breakdown", params: breakdown("visit:utm_source", "visitors", rows), raw: visitBreakdown("utm_source", true, rows)},
	{name: "breakdown visit:entry_page (visits)", when: onTab, path: "breakdown", params: breakdown("visit:entry_page", "visits", rows), raw: visitBreakdown("entry_page", false, rows)},
	{name: "breakdown visit:exit_page (visits)", when: onTab, path: "breakdown", params: breakdown("visit:exit_page", "visits", rows), raw: visitBreakdown("exit_page", false, rows)},
	{name: "breakdown visit:browser", when: onTab, path: "breakdown", params: breakdown("visit:browser", "visitors", rows), raw: visitBreakdown("browser", true, rows)},
	{name: "breakdown visit:os", when: onTab, path: "breakdown", params: breakdown("visit:os", "visitors", rows), raw: visitBreakdown("os", true, rows)},
	{name: "funnel / → /p/* → /cart", when: withURL, path: "funnel", params: params("period", "30d", "steps", "event:page==/|event:page==/p/*|event:page==/cart"),
		raw: func(w window) (string, []any) {
			where, args := scope(w, w.from)
			return `SELECT level, count() FROM (
					SELECT ` + visitor + ` AS visitor, windowFunnel(86400)(time,
						type = 'pageview' AND page_path = '/', type = 'pageview' AND page_path LIKE '/p/%', type = 'pageview' AND page_path = '/cart') AS level
					FROM events WHERE ` + where + ` GROUP BY visitor)
				GROUP BY level`, args
		}},
}
