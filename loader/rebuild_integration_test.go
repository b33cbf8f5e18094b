package loader_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/loader"
)

// A rebuild of a day puts back what a fresh load of the same events gives:
// its raw events, visits and both rollups, whatever happened to them, and
// leaves the days either side as they were, visits that cross midnight
// included. Run twice, it changes nothing more.
func TestRebuildRestoresADayAsLoaded(t *testing.T) {
	r := newRig(t)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	days := []time.Time{today.AddDate(0, 0, -10), today.AddDate(0, 0, -9), today.AddDate(0, 0, -8)}
	events := threeDays(days)
	r.produce(events...)

	// The live loader, in batches of 500 so that visits are folded across
	// batches, goes on while the rebuild runs.
	group := r.group()
	cfg := loader.DefaultConfig()
	cfg.Group = group
	cfg.Batch = kafka.BatchPolicy{Count: 500, Bytes: 16 << 20, Age: 100 * time.Millisecond}
	l, err := loader.New(cfg, loader.Deps{
		Kafka: r.kc, Sink: r.sink(), DeadLetters: r.producer, Ops: server.NewOps(),
		Log: testenv.Log(t).With("component", "loader"), Grace: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := testenv.Start(t, "loader", 30*time.Second, l.Run)
	defer stop()
	r.waitCaughtUp(group)
	loaded := dayFigures(t, r.conn)
	for _, d := range days {
		if len(loaded[d.Format(time.DateOnly)]) == 0 {
			t.Fatalf("nothing loaded for %s: %v", d.Format(time.DateOnly), loaded)
		}
	}

	corrupt(t, r.conn, days[1])
	if spoilt := dayFigures(t, r.conn); slices.Equal(spoilt[days[1].Format(time.DateOnly)], loaded[days[1].Format(time.DateOnly)]) {
		t.Fatal("the corruption changed nothing")
	}

	for run := range 2 {
		var last loader.RebuildProgress
		res, err := loader.Rebuild(context.Background(), loader.RebuildRange{From: days[1], To: days[2]}, loader.RebuildDeps{
			Kafka: r.kc, Client: clickhouse.ClientOf(r.conn), Log: testenv.Log(t),
			Progress: func(p loader.RebuildProgress) { last = p }, MutationWait: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("run %d: rebuilt %d events of %s in %.2f s: %.0f events/s (%d records read at %.0f/s, %d of the days either side rechecked)",
			run+1, res.Events, days[1].Format(time.DateOnly), res.Elapsed.Seconds(), float64(res.Events)/res.Elapsed.Seconds(),
			res.Read, float64(res.Read)/res.Elapsed.Seconds(), res.Context)
		if want := int64(count(events, days[1], days[2])); res.Events != want {
			t.Errorf("run %d rebuilt %d events, want %d", run+1, res.Events, want)
		}
		if last.Done != last.Total || last.Total != int64(len(events)) {
			t.Errorf("run %d: last progress %+v, want %d of %d", run+1, last, len(events), len(events))
		}
		got := dayFigures(t, r.conn)
		for day, want := range loaded {
			if !slices.Equal(got[day], want) {
				t.Errorf("run %d, %s:\n%s", run+1, day, diff(got[day], want))
			}
		}
		if extra := slices.Collect(maps.Keys(got)); len(extra) != len(loaded) {
			t.Errorf("run %d: days %v, want %d", run+1, extra, len(loaded))
		}
	}
}

// A range that reaches into yesterday is refused unless forced.
func TestRebuildRefusesYesterday(t *testing.T) {
	now := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		from, to string
		force    bool
		ok       bool
	}{
		{"2026-11-29", "2026-11-30", false, true},
		{"2026-11-29", "2026-12-01", false, true},
		{"2026-11-30", "2026-12-02", false, false},
		{"2026-11-30", "2026-12-02", true, true},
		{"2026-11-30", "2026-11-30", true, false},
	} {
		from, _ := time.Parse(time.DateOnly, c.from)
		to, _ := time.Parse(time.DateOnly, c.to)
		err := loader.RebuildRange{From: from, To: to, Force: c.force}.Validate(now)
		if (err == nil) != c.ok {
			t.Errorf("%s to %s force %v: %v, want ok %v", c.from, c.to, c.force, err, c.ok)
		}
	}
	if err := (loader.RebuildRange{From: time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}).Validate(now); err == nil {
		t.Error("a range not of whole days was taken")
	}
}

// threeDays is a shop's traffic on each of days: visits of one to five
// pageviews with searches (some finding nothing) and clicks, a crawler,
// and visits that start before midnight and end after it.
func threeDays(days []time.Time) []*event.Event {
	const visitsPerDay = 400
	var out []*event.Event
	recv := time.Now().UnixMilli()
	add := func(typ event.Type, visitor, session, path string, at time.Time) *event.Event {
		e := &event.Event{ID: testenv.UUID(), Type: typ, SiteID: "shop", AnonymousID: visitor, SessionID: session,
			TS: at.UnixMilli(), ReceivedAt: recv, Browser: "Firefox", OS: "Linux", Device: "desktop",
			Page: &event.Page{URL: "https://shop.example" + path, Path: path}}
		out = append(out, e)
		return e
	}
	refs := []string{"https://www.google.com/search?q=lamp", "", "https://blog.example.org/post"}
	for d, day := range days {
		for v := range visitsPerDay {
			visitor := fmt.Sprintf("visitor-%d", v*5/8)
			session := fmt.Sprintf("%s-day-%d-%d", visitor, d, v)
			at := day.Add(time.Duration(v) * 20 * time.Hour / visitsPerDay)
			for p := range 1 + v%5 {
				e := add(event.Pageview, visitor, session, fmt.Sprintf("/p/%d", (v+p)%7), at)
				if p == 0 {
					e.Page.Referrer = refs[v%3]
				}
				at = at.Add(20 * time.Second)
			}
			if v%3 == 0 {
				results := v % 2 * 4
				add(event.Search, visitor, session, "/", at).Search = &event.SearchDetail{Keyword: "Lamp", Results: &results}
			}
			if v%4 == 0 {
				add(event.Click, visitor, session, "/", at.Add(time.Second)).Click = &event.ClickDetail{Href: "/cart"}
			}
		}
		for v := range 5 { // across midnight into the next day
			visitor := fmt.Sprintf("night-owl-%d", v)
			at := day.Add(24*time.Hour - 10*time.Minute + time.Duration(v)*time.Minute)
			for p := range 8 {
				add(event.Pageview, visitor, fmt.Sprintf("%s-%d", visitor, d), fmt.Sprintf("/n/%d", p), at.Add(time.Duration(p)*2*time.Minute))
			}
		}
		e := add(event.Pageview, "crawler", "crawler-visit", "/", day.Add(12*time.Hour))
		e.Bot, e.Device = true, "bot"
	}
	return out
}

func count(events []*event.Event, from, to time.Time) int {
	n := 0
	for _, e := range events {
		if t := time.UnixMilli(e.TS); !t.Before(from) && t.Before(to) {
			n++
		}
	}
	return n
}

// corrupt spoils day in every table: a third of its events gone, a
// visit that never was, a rollup row of nothing.
func corrupt(t *testing.T, conn driver.Conn, day time.Time) {
	t.Helper()
	ctx := context.Background()
	from, to := day.Unix(), day.AddDate(0, 0, 1).Unix()
	for _, q := range []string{
		fmt.Sprintf("ALTER TABLE events DELETE WHERE time >= toDateTime(%d) AND time < toDateTime(%d) AND type = 'click'", from, to),
		fmt.Sprintf(`INSERT INTO sessions (site_id, session_id, sign, visitor, start, finish, duration, pageviews, events)
			SELECT 'shop', 'ghost', 1, 'ghost', toDateTime(%d), toDateTime(%d), 3600, 99, 99`, from+3600, from+7200),
		fmt.Sprintf(`INSERT INTO events_hourly SELECT 'shop', toDateTime(%d), '', '', 0, countState(),
			sumState(toUInt64(1)), sumState(toUInt64(0)), uniqState(toString(number)) FROM (SELECT number FROM system.numbers LIMIT 7)`, from+3600),
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		var pending uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0").Scan(&pending)
		return err == nil && pending == 0, fmt.Sprintf("%d mutations pending, %v", pending, err)
	})
}

// dayFigures are, per UTC day, the lines a dashboard and an analyst read:
// raw event counts (duplicates show as count > ids), every visit's row
// (collapsed by sign), and the event and visit rollups by dimension and
// value. The visitors of sessions_hourly are left out: uniqIf keeps a
// visitor whose row was written with +1 and taken back, so they depend on
// how events fell into batches, live as in a rebuild.
func dayFigures(t *testing.T, conn driver.Conn) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, q := range []string{
		`SELECT toString(toDate(time)), concat('events ', toString(count()), ' ids ', toString(uniqExact(id)),
			' pageviews ', toString(countIf(type = 'pageview')), ' clicks ', toString(countIf(type = 'click')))
			FROM events GROUP BY toDate(time)`,
		`SELECT toString(toDate(start)), concat('visit ', arrayStringConcat([session_id, visitor, toString(start), toString(finish),
			toString(duration), toString(pageviews), toString(events), toString(interactions), toString(is_bounce),
			entry_page, exit_page, referrer, source, channel], ' '))
			FROM sessions GROUP BY site_id, session_id, visitor, start, finish, duration, pageviews, events, interactions,
			is_bounce, entry_page, exit_page, referrer, source, channel HAVING sum(sign) != 0`,
		`SELECT toString(toDate(hour)), concat('events_hourly ', dimension, '=', value, ' events ', toString(countMerge(events)),
			' pageviews ', toString(sumMerge(pageviews)), ' zero ', toString(sumMerge(zero_results)), ' visitors ', toString(uniqMerge(visitors)))
			FROM events_hourly GROUP BY toDate(hour), dimension, value`,
		`SELECT toString(toDate(hour)), concat('sessions_hourly ', dimension, '=', value, ' visits ', toString(sumMerge(visits)),
			' bounces ', toString(sumMerge(bounces)), ' duration ', toString(sumMerge(duration)), ' pageviews ', toString(sumMerge(pageviews)))
			FROM sessions_hourly GROUP BY toDate(hour), dimension, value
			HAVING sumMerge(visits) != 0 OR sumMerge(pageviews) != 0 OR sumMerge(duration) != 0`,
	} {
		rows, err := conn.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var day, line string
			if err := rows.Scan(&day, &line); err != nil {
				t.Fatal(err)
			}
			out[day] = append(out[day], line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		_ = rows.Close()
	}
	for _, lines := range out {
		slices.Sort(lines)
	}
	return out
}

func diff(got, want []string) string {
	var b strings.Builder
	for _, l := range want {
		if !slices.Contains(got, l) {
			fmt.Fprintf(&b, "  missing %s\n", l)
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			fmt.Fprintf(&b, "  extra   %s\n", l)
		}
	}
	return b.String()
}
