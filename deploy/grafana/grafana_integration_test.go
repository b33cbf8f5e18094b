package grafana_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/loader"
)

// TestPanelsQueryClickHouse runs every ClickHouse query of the dashboard,
// expanded as Grafana and the plugin expand it, against a fresh database
// that the loader filled with visitsFixture: each query must succeed and
// return the columns its panel shows, a stat one row, and the figures the
// fixture implies.
func TestPanelsQueryClickHouse(t *testing.T) {
	_, conn := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	now := time.Now().UTC().Truncate(time.Second)
	t0 := now.Truncate(time.Hour).Add(-3 * time.Hour)
	sink := loader.NewClickHouse(clickhouse.ClientOf(conn))
	for i, batch := range visitsFixture(t0) {
		if err := sink.Write(ctx, batch); err != nil {
			t.Fatalf("load batch %d: %v", i+1, err)
		}
	}

	d := loadDashboard(t)
	// The range starts inside t0's hour, as a picked range would: the
	// dashboard counts that hour whole.
	from, to := t0.Add(5*time.Minute), now

	for _, v := range d.Templating.List {
		sql, err := expand(v.Query, queryContext{from: from, to: to})
		if err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		cols, rows, err := run(ctx, conn, sql)
		if err != nil {
			t.Fatalf("variable %s: %v\n%s", v.Name, err, sql)
		}
		if want := [][]string{{"other"}, {"shop"}}; len(cols) != 1 || !reflect.DeepEqual(rows, want) {
			t.Errorf("variable %s: columns %v, values %v; want one column, values %v", v.Name, cols, rows, want)
		}
	}

	passes := []struct {
		name     string
		site     string
		interval time.Duration // 0: the panel's own
		figures  bool          // compare with the fixture's figures
	}{
		{"shop", "shop", 0, true},
		{"shop by day", "shop", 24 * time.Hour, true},
		// A site id with quotes: ${site:sqlstring} must keep it one literal,
		// and nothing of the other sites may show.
		{"quoted site", `o'brien "shop"`, 0, false},
	}
	queries := 0
	for _, pass := range passes {
		for _, p := range allPanels(d) {
			if p.Datasource == nil || p.Datasource.Type != clickhouseType {
				continue
			}
			for _, tg := range p.Targets {
				name := fmt.Sprintf("%s/%s/%s", pass.name, p.Title, tg.RefID)
				i := resultFor(p, tg)
				if i < 0 {
					t.Errorf("%s: not in panelResults", name)
					continue
				}
				want := panelResults[i]
				q := queryContext{from: from, to: to, interval: pass.interval, vars: map[string]string{"site": pass.site}}
				if q.interval == 0 {
					q.interval = grafanaInterval(t, p, from, to)
				}
				sql, err := expand(tg.RawSQL, q)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				cols, rows, err := run(ctx, conn, sql)
				queries++
				if err != nil {
					t.Errorf("%s: %v\n%s", name, err, sql)
					continue
				}
				if !slices.Equal(cols, want.columns) {
					t.Errorf("%s: columns %v, want %v", name, cols, want.columns)
					continue
				}
				checkRows(t, name, p, want, rows, pass.figures)
			}
		}
	}
	t.Logf("%d panel queries ran on ClickHouse; range %s to %s", queries, from.Format(time.RFC3339), to.Format(time.RFC3339))
}

func checkRows(t *testing.T, name string, p panel, want panelResult, rows [][]string, figures bool) {
	t.Helper()
	if p.Type == "stat" && len(rows) != 1 {
		t.Errorf("%s: a stat panel wants one row, got %d: %v", name, len(rows), rows)
		return
	}
	switch {
	case !figures && p.Type == "stat":
		if rows[0][0] != "0" {
			t.Errorf("%s: %v for a site without data, want 0", name, rows[0])
		}
	case !figures:
		if len(rows) != 0 {
			t.Errorf("%s: %v for a site without data, want no rows", name, rows)
		}
	case want.rows != nil && !reflect.DeepEqual(rows, want.rows):
		t.Errorf("%s:\n got %v\nwant %v", name, rows, want.rows)
	}
	if !figures {
		return
	}
	for col, total := range want.sums {
		var sum float64
		for _, r := range rows {
			v, err := strconv.ParseFloat(r[slices.Index(want.columns, col)], 64)
			if err != nil {
				t.Fatalf("%s: %s: %v", name, col, err)
			}
			sum += v
		}
		if sum != total {
			t.Errorf("%s: %s add up to %v over %d rows, want %v", name, col, sum, len(rows), total)
		}
	}
}

// grafanaInterval approximates the $__interval Grafana gives a panel: the
// range over the points the panel has room for (about 1000), but not under
// the panel's minimum interval.
func grafanaInterval(t *testing.T, p panel, from, to time.Time) time.Duration {
	t.Helper()
	iv := to.Sub(from) / 1000
	if p.Interval != "" {
		minimum, err := time.ParseDuration(p.Interval)
		if err != nil {
			t.Fatalf("panel %q: interval %q: %v", p.Title, p.Interval, err)
		}
		iv = max(iv, minimum)
	}
	return iv.Truncate(time.Second)
}

// run returns the column names of sql's result and its rows as text.
func run(ctx context.Context, conn driver.Conn, sql string) ([]string, [][]string, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out [][]string
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, err
		}
		row := make([]string, len(dest))
		for i, v := range dest {
			row[i] = fmt.Sprint(reflect.ValueOf(v).Elem().Interface())
		}
		out = append(out, row)
	}
	return rows.Columns(), out, rows.Err()
}

// visitsFixture is a small shop, in two batches so that visit s1 changes
// between them (its exit page moves from /blog/post to /products/lamp):
//
//	s1 v1 t0      Google → /blog/post, /products/lamp, search "Lamp " (3 results), click /cart; Chrome Linux desktop
//	s2 v2 t0+10m  newsletter e-mail campaign → /, bounce; Firefox Windows desktop
//	s3 v3 t0+20m  news.example.com → /products/lamp, search "humidifier" (0 results), custom signup; Safari iOS mobile
//	s4 v1 t0+70m  direct → /, bounce; Chrome Linux desktop
//
// plus what no shop figure may include: a bot's pageview, another site's
// visit, and a visit three days before the range.
func visitsFixture(t0 time.Time) [][]*event.Event {
	n := 0
	ev := func(typ event.Type, site, visitor, session string, at time.Duration, path, referrer string) *event.Event {
		n++
		ts := t0.Add(at).UnixMilli()
		return &event.Event{
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), Type: typ, TS: ts, ReceivedAt: ts + 1000,
			SiteID: site, AnonymousID: visitor, SessionID: session,
			Page:    &event.Page{URL: "https://shop.example" + path, Path: path, Referrer: referrer},
			Browser: "Chrome", OS: "Linux", Device: "desktop",
		}
	}
	on := func(e *event.Event, f func(e *event.Event)) *event.Event { f(e); return e }
	results := func(n int) *int { return &n }
	firefox := func(e *event.Event) { e.Browser, e.OS = "Firefox", "Windows" }
	safari := func(e *event.Event) { e.Browser, e.OS, e.Device = "Safari", "iOS", "mobile" }
	const m = time.Minute

	first := []*event.Event{
		ev(event.Pageview, "shop", "v1", "s1", 0, "/blog/post", "https://www.google.com/search?q=lamp"),
		on(ev(event.Pageview, "shop", "v2", "s2", 10*m, "/", ""), func(e *event.Event) {
			firefox(e)
			e.Page.URL += "?utm_source=newsletter&utm_medium=email&utm_campaign=spring"
			e.Context = &event.Context{UTM: &event.UTM{Source: "newsletter", Medium: "email", Campaign: "spring"}}
		}),
		on(ev(event.Pageview, "shop", "bot1", "sb", 5*m, "/", ""), func(e *event.Event) { e.Bot = true }),
		ev(event.Pageview, "other", "v9", "s9", 5*m, "/", ""),
		ev(event.Pageview, "shop", "v8", "s8", -72*time.Hour, "/old", ""),
	}
	second := []*event.Event{
		ev(event.Pageview, "shop", "v1", "s1", 1*m, "/products/lamp", "https://shop.example/blog/post"),
		on(ev(event.Search, "shop", "v1", "s1", 2*m, "/products/lamp", ""), func(e *event.Event) {
			e.Search = &event.SearchDetail{Keyword: "Lamp ", Results: results(3)}
		}),
		on(ev(event.Click, "shop", "v1", "s1", 3*m, "/products/lamp", ""), func(e *event.Event) {
			e.Click = &event.ClickDetail{Href: "/cart", Text: "Add to cart"}
		}),
		on(ev(event.Pageview, "shop", "v3", "s3", 20*m, "/products/lamp", "https://news.example.com/article"), safari),
		on(ev(event.Search, "shop", "v3", "s3", 21*m, "/products/lamp", ""), func(e *event.Event) {
			safari(e)
			e.Search = &event.SearchDetail{Keyword: "humidifier", Results: results(0)}
		}),
		on(ev(event.Custom, "shop", "v3", "s3", 22*m, "/products/lamp", ""), func(e *event.Event) { safari(e); e.Name = "signup" }),
		ev(event.Pageview, "shop", "v1", "s4", 70*m, "/", ""),
	}
	return [][]*event.Event{first, second}
}
