package grafana_test

import (
	"slices"
	"testing"
)

// panelResult is what one ClickHouse target of the dashboard returns: its
// columns, and for the data of visitsFixture (site shop) its rows or, for
// a time series, the totals of some columns.
type panelResult struct {
	panel, refID string
	columns      []string
	rows         [][]string         // nil: not compared
	sums         map[string]float64 // column → total over all rows
}

// panelResults lists every ClickHouse target of the dashboard. The figures
// follow from visitsFixture: visitors v1 (visits s1, s4), v2 (s2) and v3
// (s3); 5 pageviews; s2 and s4 bounce; s1 lasts 180 s, s3 120 s.
var panelResults = []panelResult{
	{panel: "Unique visitors", columns: []string{"visitors"}, rows: [][]string{{"3"}}},
	{panel: "Visits", columns: []string{"visits"}, rows: [][]string{{"4"}}},
	{panel: "Pageviews", columns: []string{"pageviews"}, rows: [][]string{{"5"}}},
	{panel: "Views per visit", columns: []string{"views_per_visit"}, rows: [][]string{{"1.25"}}},
	{panel: "Bounce rate", columns: []string{"bounce_rate"}, rows: [][]string{{"50"}}},
	{panel: "Visit duration", columns: []string{"visit_duration"}, rows: [][]string{{"75"}}},
	{panel: "Visitors", refID: "A", columns: []string{"time", "visitors", "pageviews"}, sums: map[string]float64{"pageviews": 5}},
	{panel: "Visitors", refID: "B", columns: []string{"time", "visits"}, sums: map[string]float64{"visits": 4}},
	{panel: "Top pages", columns: []string{"page", "visitors", "pageviews"},
		rows: [][]string{{"/", "2", "2"}, {"/products/lamp", "2", "2"}, {"/blog/post", "1", "1"}}},
	{panel: "Entry pages", columns: []string{"entry_page", "visitors", "entrances"},
		rows: [][]string{{"/", "2", "2"}, {"/blog/post", "1", "1"}, {"/products/lamp", "1", "1"}}},
	// s1's exit page was /blog/post until its second batch: that row nets to
	// zero visits and must not show.
	{panel: "Exit pages", columns: []string{"exit_page", "visitors", "exits"},
		rows: [][]string{{"/", "2", "2"}, {"/products/lamp", "2", "2"}}},
	{panel: "Sources", columns: []string{"source", "visitors", "visits", "bounce_rate"},
		rows: [][]string{{"Direct / None", "1", "1", "100"}, {"Google", "1", "1", "0"}, {"news.example.com", "1", "1", "0"}, {"newsletter", "1", "1", "100"}}},
	{panel: "Channels", columns: []string{"channel", "visitors", "visits"},
		rows: [][]string{{"Direct", "1", "1"}, {"Email", "1", "1"}, {"Organic Search", "1", "1"}, {"Referral", "1", "1"}}},
	{panel: "UTM", columns: []string{"tag", "value", "visitors", "visits"},
		rows: [][]string{{"source", "newsletter", "1", "1"}, {"medium", "email", "1", "1"}, {"campaign", "spring", "1", "1"}}},
	{panel: "Browsers", columns: []string{"browser", "visitors", "visits"},
		rows: [][]string{{"Chrome", "1", "2"}, {"Firefox", "1", "1"}, {"Safari", "1", "1"}}},
	{panel: "Operating systems", columns: []string{"os", "visitors", "visits"},
		rows: [][]string{{"Linux", "1", "2"}, {"Windows", "1", "1"}, {"iOS", "1", "1"}}},
	{panel: "Devices", columns: []string{"device", "visitors", "visits"},
		rows: [][]string{{"desktop", "2", "3"}, {"mobile", "1", "1"}}},
	{panel: "Top searches", columns: []string{"keyword", "searches", "zero_results", "visitors"},
		rows: [][]string{{"humidifier", "1", "1", "1"}, {"lamp", "1", "0", "1"}}},
	{panel: "Searches with no results", columns: []string{"keyword", "zero_results", "visitors"},
		rows: [][]string{{"humidifier", "1", "1"}}},
	{panel: "Top clicks", columns: []string{"target", "clicks", "visitors"}, rows: [][]string{{"/cart", "1", "1"}}},
	{panel: "Custom events", columns: []string{"event", "events", "visitors"}, rows: [][]string{{"signup", "1", "1"}}},
}

// resultFor returns the index in panelResults of a panel's target, or -1.
func resultFor(p panel, tg target) int {
	return slices.IndexFunc(panelResults, func(r panelResult) bool {
		return r.panel == p.Title && (r.refID == tg.RefID || r.refID == "" && tg.RefID == "A")
	})
}

// TestPanelResultsCoverDashboard keeps panelResults and the dashboard in
// step, and checks what the panels' overrides name against the columns.
func TestPanelResultsCoverDashboard(t *testing.T) {
	d := loadDashboard(t)
	covered, titles := map[int]bool{}, map[string]bool{}
	for _, p := range allPanels(d) {
		if p.Datasource == nil || p.Datasource.Type != clickhouseType {
			continue
		}
		if titles[p.Title] {
			t.Errorf("two ClickHouse panels are titled %q; panelResults tells them apart by title", p.Title)
		}
		titles[p.Title] = true
		var columns []string
		for _, tg := range p.Targets {
			i := resultFor(p, tg)
			if i < 0 {
				t.Errorf("panel %q target %s: not in panelResults", p.Title, tg.RefID)
				continue
			}
			covered[i] = true
			columns = append(columns, panelResults[i].columns...)
		}
		for _, f := range overrideFields(p) {
			if !slices.Contains(columns, f) {
				t.Errorf("panel %q: an override names field %q; its queries return %v", p.Title, f, columns)
			}
		}
	}
	for i, r := range panelResults {
		if !covered[i] {
			t.Errorf("panelResults[%d] (%s %s): no such ClickHouse target in the dashboard", i, r.panel, r.refID)
		}
	}
}
