package dashboard

import (
	"strings"
)

// property is what the Stats API filters and breaks figures down by. Event
// properties are read from the events table (or events_hourly), visit
// properties from the sessions table (or sessions_hourly).
type property struct {
	name  string // as the API spells it: event:page, visit:source, event:props:plan
	key   string // the key naming a breakdown row: page, source, plan
	visit bool   // a visit's property rather than an event's
	// dim is the property's dimension in its rollup; "" when the rollup
	// has none (custom props), so its reports always read events.
	dim string
	// expr is the SQL of the property's value over one row of events (event
	// properties) or sessions (visit properties); its ? are arg.
	expr string
	arg  []any
	// rows narrows the events an event breakdown groups (pageviews for
	// pages, searches for keywords); its ? are arg too.
	rows string
	// none labels the empty value in results and filters, as Plausible
	// names a visit without a source; "" leaves empty values out of
	// breakdowns.
	none string
	// fold makes a filter value look like stored ones: search keywords are
	// kept lower-cased and trimmed.
	fold func(string) string
}

// directNone is Plausible's name for a visit without a source or referrer.
const directNone = "Direct / None"

// visitorExpr is the visitor of an event: the beacon's device id, or the
// user id of server-side events. The rollups and the sessions table use
// the same expression.
const visitorExpr = "if(anonymous_id != '', anonymous_id, user_id)"

// searchExpr is a search's keyword as events_hourly keeps it.
const searchExpr = `if(type = 'search', lower(replaceRegexpAll(search_keyword, '^\\s+|\\s+$', '')), '')`

var eventProperties = []property{
	{name: "event:page", key: "page", dim: "page", expr: "page_path", rows: "type = 'pageview'"},
	// Plausible names pageviews "pageview" among the custom events.
	{name: "event:name", key: "name", dim: "name", expr: "multiIf(type = 'custom', name, type = 'pageview', 'pageview', '')",
		rows: "type IN ('custom', 'pageview')"},
	{name: "event:search", key: "search", dim: "search", expr: searchExpr, rows: "type = 'search'", fold: foldKeyword},
	{name: "event:click", key: "click", dim: "click", expr: "if(type = 'click', if(click_href != '', click_href, click_text), '')", rows: "type = 'click'"},
}

var visitProperties = []property{
	{name: "visit:entry_page", key: "entry_page"},
	{name: "visit:exit_page", key: "exit_page"},
	{name: "visit:source", key: "source", none: directNone},
	{name: "visit:referrer", key: "referrer", none: directNone},
	{name: "visit:channel", key: "channel"},
	{name: "visit:utm_medium", key: "utm_medium"},
	{name: "visit:utm_source", key: "utm_source"},
	{name: "visit:utm_campaign", key: "utm_campaign"},
	{name: "visit:utm_content", key: "utm_content"},
	{name: "visit:utm_term", key: "utm_term"},
	{name: "visit:browser", key: "browser"},
	{name: "visit:os", key: "os"},
	{name: "visit:device", key: "device"},
}

// propsPrefix starts the name of a custom property: event:props:KEY.
const propsPrefix = "event:props:"

// lookupProperty returns the property the API calls name.
func lookupProperty(name string) (property, bool) {
	if key, ok := strings.CutPrefix(name, propsPrefix); ok {
		if key == "" {
			return property{}, false
		}
		return property{
			name: name, key: key,
			expr: "props.value[indexOf(props.key, ?)]", arg: []any{key},
			rows: "has(props.key, ?)",
		}, true
	}
	for _, p := range eventProperties {
		if p.name == name {
			return p, true
		}
	}
	for _, p := range visitProperties {
		if p.name == name {
			// A visit property is a column of sessions and a dimension
			// of sessions_hourly, all under the same name.
			p.visit, p.dim, p.expr = true, p.key, p.key
			return p, true
		}
	}
	return property{}, false
}

// rowArgs are the arguments of rows: a custom property's key again.
func (p property) rowArgs() []any { return p.arg }

// stored turns a value as the API shows it into the value as stored.
func (p property) stored(v string) string {
	if p.none != "" && v == p.none {
		return ""
	}
	if p.fold != nil {
		return p.fold(v)
	}
	return v
}

// shown turns a stored value into the value the API shows.
func (p property) shown(v string) string {
	if v == "" && p.none != "" {
		return p.none
	}
	return v
}

// keepsEmpty says whether breakdowns list the empty value (under none).
func (p property) keepsEmpty() bool { return p.none != "" }

// eventOnly properties describe single events, not visits: visit metrics
// cannot be broken down by them, as in Plausible.
func (p property) eventOnly() bool { return !p.visit && p.name != "event:page" }

func foldKeyword(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
