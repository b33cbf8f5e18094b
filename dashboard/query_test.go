package dashboard

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// statements returns the statements the reports of s run: totals, an
// hourly timeseries and a page of a breakdown by every property, with the
// two statements of each unique-visitor count over the rollups (counted
// from a few levels).
func statements(t *testing.T, s scope) map[string]*stmt {
	t.Helper()
	out := map[string]*stmt{}
	add := func(name string, parts []part) {
		for i, p := range parts {
			if c := p.visitors; c != nil {
				out[fmt.Sprintf("%s %d: estimate", name, i)] = c.estimateStmt()
				out[fmt.Sprintf("%s %d: count", name, i)] = c.countStmt(map[string]int{"": 4, "/cart": 2, "2024-03-02 05:00:00": 1})
				continue
			}
			out[fmt.Sprintf("%s %d", name, i)] = p.st
		}
	}
	all := append([]metric(nil), knownMetrics...)
	add("totals", figureParts(s, "", all))
	add("timeseries", figureParts(s, hourly, all))
	names := []string{"event:props:plan"}
	for _, p := range append(eventProperties, visitProperties...) {
		names = append(names, p.name)
	}
	for _, name := range names {
		p, _ := lookupProperty(name)
		metrics := []metric{visitors, events}
		switch {
		case p.visit:
			metrics = []metric{visitors, visits, pageviews, bounceRate, visitDuration}
		case name == "event:page":
			metrics = []metric{visitors, pageviews, events, visits, bounceRate, visitDuration}
		}
		plan := planBreakdown(s, p, metrics, 10, 1)
		out[name+" ranked"] = plan.ranked
		add(name+" fill", plan.fill([]string{"/cart", "/it's"}))
	}
	return out
}

var tableRe = regexp.MustCompile(`\bFROM (\w+)`)

func TestUnfilteredReportsReadOnlyRollups(t *testing.T) {
	s := scope{site: "shop", from: day("2024-03-01"), to: day("2024-03-08")}
	for name, st := range statements(t, s) {
		for _, m := range tableRe.FindAllStringSubmatch(st.String(), -1) {
			table := m[1]
			if strings.HasPrefix(name, "event:props:plan") {
				// No rollup keeps custom props.
				if table != "events" {
					t.Errorf("%s reads %s, want events", name, table)
				}
				continue
			}
			if table != "events_hourly" && table != "sessions_hourly" {
				t.Errorf("%s without filters reads %s:\n%s", name, table, st)
			}
		}
	}
}

func TestFilteredReportsReadRawTables(t *testing.T) {
	fs, err := parseFilters("event:page==/cart;visit:source==Google")
	if err != nil {
		t.Fatal(err)
	}
	s := scope{site: "shop", from: day("2024-03-01"), to: day("2024-03-08"), filters: fs}
	for name, st := range statements(t, s) {
		sql := st.String()
		if strings.Contains(sql, "_hourly") {
			t.Errorf("%s with filters reads a rollup:\n%s", name, sql)
		}
		// An event filter on visits goes through the events of the
		// visit, a visit filter on events through the matching visits.
		if !strings.Contains(sql, "session_id IN (SELECT session_id FROM") {
			t.Errorf("%s applies its filters without the other table:\n%s", name, sql)
		}
	}
}

// TestUserValuesAreBound: the site, filter values and property keys
// travel as arguments; no user value is part of any statement's text.
func TestUserValuesAreBound(t *testing.T) {
	fs, err := parseFilters("event:page==/it's;visit:source!=x' OR 1=1 --|Google;event:props:k'ey==v")
	if err != nil {
		t.Fatal(err)
	}
	s := scope{site: "sh'op", from: day("2024-03-01"), to: day("2024-03-08"), filters: fs}
	sts := statements(t, s)
	steps, err := parseSteps("event:page==/it's|event:name==O'Neil")
	if err != nil {
		t.Fatal(err)
	}
	sts["funnel"], sts["retention"], sts["realtime"] = funnelStmt(s, steps), retentionStmt(s), realtimeVisitors("sh'op", day("2024-03-01"))
	for name, st := range sts {
		sql := st.String()
		for _, v := range []string{"it's", "x'", "k'ey", "sh'op", "O'Neil", "Google"} {
			if strings.Contains(sql, v) {
				t.Errorf("%s has the user value %q in its text:\n%s", name, v, sql)
			}
		}
		if n := strings.Count(sql, "?"); n != len(st.args) {
			t.Errorf("%s has %d placeholders for %d arguments:\n%s", name, n, len(st.args), sql)
		}
	}
}

// TestBreakdownsCountVisitorsOfOnePage: over the rollups a breakdown
// ranks its values on sums alone and counts unique visitors only for the
// values of the page asked for; a filtered one, or one by a custom prop
// (which no rollup keeps), counts them while ranking. Visitors asked first
// rank by their additive companion.
func TestBreakdownsCountVisitorsOfOnePage(t *testing.T) {
	fs, err := parseFilters("visit:source==Google")
	if err != nil {
		t.Fatal(err)
	}
	rollups := scope{site: "shop", from: day("2024-03-01"), to: day("2024-03-31")}
	filtered := rollups
	filtered.filters = fs
	tests := []struct {
		prop    string
		metrics []metric
		order   string
	}{
		{"event:page", []metric{visitors}, "n_pageviews"},
		{"event:page", []metric{visitors, visits, bounceRate}, "n_pageviews"},
		{"event:name", []metric{visitors, events}, "n_events"},
		{"event:search", []metric{visitors, events, zeroResults}, "n_events"},
		{"event:click", []metric{visitors}, "n_events"},
		{"visit:channel", []metric{visitors}, "n_visits"},
		{"visit:exit_page", []metric{visitors, bounceRate}, "n_visits"},
		{"visit:source", []metric{bounceRate, visitors}, "if(n_visits > 0, n_bounces / n_visits, 0)"},
	}
	for _, tt := range tests {
		prop, _ := lookupProperty(tt.prop)
		plan := planBreakdown(rollups, prop, tt.metrics, 9, 2)
		ranked := plan.ranked.String()
		if strings.Contains(ranked, "uniq") || !strings.Contains(ranked, "_hourly") {
			t.Errorf("%s %v: the ranking statement is not sums over a rollup:\n%s", tt.prop, tt.metrics, ranked)
		}
		if want := "ORDER BY " + tt.order + " DESC, value ASC LIMIT 9, 9"; !strings.Contains(ranked, want) {
			t.Errorf("%s %v: ranked by\n%s\nwant %s", tt.prop, tt.metrics, ranked, want)
		}
		var counted []*visitorCount
		for _, p := range plan.fill([]string{"a", "b"}) {
			if p.visitors != nil {
				counted = append(counted, p.visitors)
				continue
			}
			if sql := p.st.String(); strings.Contains(sql, "uniq") || !strings.Contains(sql, "value IN (?, ?)") {
				t.Errorf("%s %v: a fill statement counts visitors or is not narrowed to the page's values:\n%s", tt.prop, tt.metrics, sql)
			}
		}
		if len(counted) != 1 || !slices.Equal(counted[0].values, []string{"a", "b"}) || counted[0].visits != prop.visit {
			t.Errorf("%s %v: visitors counted %+v, want once, for the page's values", tt.prop, tt.metrics, counted)
		}

		for _, s := range []scope{filtered, rollups} {
			p := prop
			if s.fromRollups() {
				// A custom prop reads raw events, filtered or not.
				p, _ = lookupProperty("event:props:plan")
			}
			plan = planBreakdown(s, p, []metric{visitors}, 9, 2)
			if !strings.Contains(plan.ranked.String(), "uniq(") {
				t.Errorf("%s over raw rows: visitors are not counted while ranking:\n%s", p.name, plan.ranked)
			}
			for _, part := range plan.fill([]string{"a"}) {
				if part.visitors != nil || strings.Contains(part.st.String(), "uniq") {
					t.Errorf("%s over raw rows: visitors counted again: %+v", p.name, part)
				}
			}
		}
	}
}
