package dashboard

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/testenv"
)

// TestVisitorsFromLevels: on the real ClickHouse, figures above exactBelow
// are counted from a sample of their levels and land within four standard
// errors of the smallest sample (4/sqrt(sampleFloor), 4.4 %) of the exact
// count; figures below are exact. The
// events go in through the events table, so the rollups' materialized
// views give every row its level.
func TestVisitorsFromLevels(t *testing.T) {
	_, conn := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	day0 := day("2024-03-04")
	// 300,000 visitors of site big over two days, each viewing /; the
	// first 40,000 view /p/1 too, 150,000 others /p/2 and 10,000 more
	// /p/3. Site small has 500.
	for _, insert := range []string{
		`INSERT INTO events (id, type, site_id, time, anonymous_id, page_path)
		 SELECT concat('a', toString(number)), 'pageview', 'big', toDateTime(?) + (number % 2) * 86400 + number % 80000, concat('v', toString(number)), '/'
		 FROM system.numbers LIMIT 300000`,
		`INSERT INTO events (id, type, site_id, time, anonymous_id, page_path)
		 SELECT concat('b', toString(number)), 'pageview', 'big', toDateTime(?) + (number % 2) * 86400 + number % 80000 + 60, concat('v', toString(number)), '/p/1'
		 FROM system.numbers LIMIT 40000`,
		`INSERT INTO events (id, type, site_id, time, anonymous_id, page_path)
		 SELECT concat('c', toString(number)), 'pageview', 'big', toDateTime(?) + (number % 2) * 86400 + number % 80000 + 60, concat('v', toString(number)), '/p/2'
		 FROM system.numbers WHERE number >= 100000 LIMIT 150000`,
		`INSERT INTO events (id, type, site_id, time, anonymous_id, page_path)
		 SELECT concat('e', toString(number)), 'pageview', 'big', toDateTime(?) + (number % 2) * 86400 + number % 80000 + 60, concat('v', toString(number)), '/p/3'
		 FROM system.numbers WHERE number >= 250000 LIMIT 10000`,
		`INSERT INTO events (id, type, site_id, time, anonymous_id, page_path)
		 SELECT concat('d', toString(number)), 'pageview', 'small', toDateTime(?) + number * 60, concat('v', toString(number)), '/'
		 FROM system.numbers LIMIT 500`,
	} {
		if err := conn.Exec(ctx, insert, day0); err != nil {
			t.Fatal(err)
		}
	}
	s := scope{site: "big", from: day0, to: day0.AddDate(0, 0, 2)}
	page, _ := lookupProperty("event:page")

	exact := func(where string) int64 {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT uniqExact(anonymous_id) FROM events WHERE "+where).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return int64(n)
	}
	level := func(c visitorCount, key string) int {
		rows, err := query(ctx, conn, c.estimateStmt())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if c.groupKey(r) == key {
				return levelFor(r.visitors << maxLevel)
			}
		}
		return 0
	}
	count := func(c visitorCount) map[string]int64 {
		rows, err := countVisitors(ctx, conn, c)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, r := range rows {
			out[c.groupKey(r)] = r.visitors
		}
		return out
	}
	tolerance := 4 / math.Sqrt(sampleFloor)
	check := func(name string, c visitorCount, key string, got, want int64, sampled bool) {
		t.Helper()
		k := level(c, key)
		t.Logf("%s: %d visitors from level %d, exactly %d", name, got, k, want)
		switch {
		case sampled && k == 0:
			t.Errorf("%s: %d visitors counted from every level, want a sample", name, want)
		case !sampled && got != want:
			t.Errorf("%s = %d, want exactly %d", name, got, want)
		case sampled && math.Abs(float64(got-want)) > tolerance*float64(want):
			t.Errorf("%s = %d from level %d, more than %.1f %% from %d", name, got, k, 100*tolerance, want)
		}
	}

	total := visitorCount{s: s}
	check("total", total, "", count(total)[""], exact("site_id = 'big'"), true)

	pages := visitorCount{s: s, prop: &page, values: []string{"/", "/p/1", "/p/2", "/p/3"}}
	got := count(pages)
	check("/", pages, "/", got["/"], 300000, true)
	check("/p/2", pages, "/p/2", got["/p/2"], 150000, true)
	check("/p/1", pages, "/p/1", got["/p/1"], 40000, true)
	check("/p/3", pages, "/p/3", got["/p/3"], 10000, false)

	days := visitorCount{s: s, iv: daily}
	got = count(days)
	for _, d := range []time.Time{day0, day0.AddDate(0, 0, 1)} {
		label := d.Format(time.DateOnly)
		check(label, days, label, got[label], exact("site_id = 'big' AND toDate(time) = '"+label+"'"), true)
	}

	small := visitorCount{s: scope{site: "small", from: day0, to: day0.AddDate(0, 0, 1)}}
	check("small", small, "", count(small)[""], 500, false)
}
