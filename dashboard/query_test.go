package dashboard

import (
	"regexp"
	"strings"
	"testing"
)

// statements returns the statements the reports of s run: totals, a
// timeseries and a breakdown by every property (a page of 10).
func statements(t *testing.T, s scope) map[string]*stmt {
	t.Helper()
	all := append([]metric(nil), knownMetrics...)
	out := map[string]*stmt{}
	evCols, viCols := wants(all, false)
	for name, g := range map[string]grouping{"totals": {}, "timeseries": {iv: hourly}} {
		out[name+" events"] = eventStmt(s, g, evCols)
		out[name+" visits"] = visitStmt(s, g, viCols)
	}
	names := []string{"event:props:plan"}
	for _, p := range append(eventProperties, visitProperties...) {
		names = append(names, p.name)
	}
	for _, name := range names {
		p, _ := lookupProperty(name)
		g := grouping{prop: &p, order: orderSQL(visitors, p.visit), limit: 10}
		if p.visit {
			_, cols := wants(all, true)
			out[name] = visitStmt(s, g, cols)
		} else {
			out[name] = eventStmt(s, g, evCols)
		}
	}
	return out
}

var tableRe = regexp.MustCompile(`\bFROM (\w+)`)

func TestUnfilteredReportsReadOnlyRollups(t *testing.T) {
	s := scope{site: "shop", from: day("2024-03-01"), to: day("2024-03-08")}
	for name, st := range statements(t, s) {
		for _, m := range tableRe.FindAllStringSubmatch(st.String(), -1) {
			table := m[1]
			if name == "event:props:plan" {
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
