package loader

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
)

// The rollups the dashboard reads must equal what the events say, counted
// once per event id, however often an event reaches the loader: a client
// resending a batch, a loader dying mid-batch, a replay of the topics.

// figures is what the dashboard shows without filters.
type figures struct {
	totals
	PagePageviews, EntryVisits map[string]int64
}

type totals struct {
	Events, Pageviews, Visitors    uint64
	Visits, Bounces, Duration      int64
	VisitPageviews                 int64
	VisitVisitors                  uint64
	SearchZero, SourceVisitsGoogle int64
}

// shopTraffic is a morning in a shop: visitors with one or two visits of
// one to four pageviews, searches (some finding nothing), clicks, a
// crawler. Times are client times in the last hours, in whole seconds
// apart, so the figures can be computed here without ClickHouse.
func shopTraffic() ([]*event.Event, figures) {
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	var out []*event.Event
	want := figures{PagePageviews: map[string]int64{}, EntryVisits: map[string]int64{}}
	visitors := map[string]bool{}
	add := func(e *event.Event, at time.Time) {
		e.ID, e.SiteID, e.TS, e.ReceivedAt = testenv.UUID(), "shop", at.UnixMilli(), time.Now().UnixMilli()
		e.Browser, e.OS, e.Device = "Firefox", "Linux", "desktop"
		out = append(out, e)
	}
	referrers := []string{"https://www.google.com/search?q=humidifier", "https://www.facebook.com/", "", "https://blog.example.org/post"}
	for v := range 12 {
		anon := fmt.Sprintf("visitor-%d", v)
		for s := range 1 + v%2 {
			sid := fmt.Sprintf("%s-visit-%d", anon, s)
			start := base.Add(time.Duration(v)*3*time.Minute + time.Duration(s)*45*time.Minute)
			views := 1 + (v+s)%4
			interactions := 0
			last := start
			for p := range views {
				path := "/"
				if p > 0 {
					path = fmt.Sprintf("/p/%d", (v+p)%5)
				}
				last = start.Add(time.Duration(p) * 20 * time.Second)
				ref := ""
				if p == 0 {
					ref = referrers[v%4]
				}
				add(&event.Event{Type: event.Pageview, AnonymousID: anon, SessionID: sid,
					Page: &event.Page{URL: "https://shop.example" + path, Path: path, Referrer: ref}}, last)
				want.PagePageviews[path]++
			}
			if (v+s)%3 == 0 {
				results := 3 * (v % 2)
				last = last.Add(5 * time.Second)
				add(&event.Event{Type: event.Search, AnonymousID: anon, SessionID: sid,
					Page: &event.Page{URL: "https://shop.example/", Path: "/"}, Search: &event.SearchDetail{Keyword: "Humidifier", Results: &results}}, last)
				interactions++
				if results == 0 {
					want.SearchZero++
				}
			}
			if v%5 == 0 {
				last = last.Add(3 * time.Second)
				add(&event.Event{Type: event.Click, AnonymousID: anon, SessionID: sid,
					Page: &event.Page{URL: "https://shop.example/", Path: "/"}, Click: &event.ClickDetail{Href: "/cart"}}, last)
				interactions++
			}
			visitors[anon] = true
			want.Visits++
			want.VisitPageviews += int64(views)
			want.Duration += int64(last.Sub(start) / time.Second)
			want.EntryVisits["/"]++
			if views == 1 && interactions == 0 {
				want.Bounces++
			}
			if v%4 == 0 {
				want.SourceVisitsGoogle++
			}
		}
	}
	humans := len(out)
	for p := range 3 { // a crawler: in events, in no figure
		e := &event.Event{Type: event.Pageview, AnonymousID: "crawler", SessionID: "crawler-visit",
			Page: &event.Page{URL: "https://shop.example/", Path: "/"}}
		add(e, base.Add(time.Duration(p)*time.Second))
		e.Bot, e.Device = true, "bot"
	}
	want.Events, want.Visitors, want.VisitVisitors = uint64(humans), uint64(len(visitors)), uint64(len(visitors))
	for _, n := range want.PagePageviews {
		want.Pageviews += uint64(n)
	}
	return out, want
}

// rollups reads the figures from events_hourly and sessions_hourly, as the
// dashboard does.
func rollups(ctx context.Context, conn driver.Conn) (figures, error) {
	f := figures{PagePageviews: map[string]int64{}, EntryVisits: map[string]int64{}}
	err := conn.QueryRow(ctx, `SELECT countMerge(events), sumMerge(pageviews), uniqMerge(visitors)
		FROM events_hourly WHERE site_id = 'shop' AND dimension = ''`).Scan(&f.Events, &f.Pageviews, &f.Visitors)
	if err != nil {
		return f, err
	}
	err = conn.QueryRow(ctx, `SELECT toInt64(sumMerge(zero_results)) FROM events_hourly
		WHERE site_id = 'shop' AND dimension = 'search'`).Scan(&f.SearchZero)
	if err != nil {
		return f, err
	}
	err = conn.QueryRow(ctx, `SELECT sumMerge(visits), sumMerge(bounces), sumMerge(duration), sumMerge(pageviews), uniqIfMerge(visitors)
		FROM sessions_hourly WHERE site_id = 'shop' AND dimension = ''`).Scan(&f.Visits, &f.Bounces, &f.Duration, &f.VisitPageviews, &f.VisitVisitors)
	if err != nil {
		return f, err
	}
	err = conn.QueryRow(ctx, `SELECT sumMerge(visits) FROM sessions_hourly
		WHERE site_id = 'shop' AND dimension = 'source' AND value = 'Google'`).Scan(&f.SourceVisitsGoogle)
	if err != nil {
		return f, err
	}
	if err := byValue(ctx, conn, `SELECT value, toInt64(sumMerge(pageviews)) AS n FROM events_hourly
		WHERE site_id = 'shop' AND dimension = 'page' GROUP BY value`, f.PagePageviews); err != nil {
		return f, err
	}
	return f, byValue(ctx, conn, `SELECT value, sumMerge(visits) AS n FROM sessions_hourly
		WHERE site_id = 'shop' AND dimension = 'entry_page' GROUP BY value HAVING n > 0`, f.EntryVisits)
}

// raw computes the same figures from the events table, each id once.
func raw(ctx context.Context, conn driver.Conn) (figures, error) {
	f := figures{PagePageviews: map[string]int64{}, EntryVisits: map[string]int64{}}
	const once = `(SELECT * FROM events WHERE site_id = 'shop' AND bot = 0 ORDER BY id LIMIT 1 BY id)`
	err := conn.QueryRow(ctx, `SELECT count(), countIf(type = 'pageview'), uniqExact(anonymous_id),
		toInt64(countIf(type = 'search' AND search_results = 0)) FROM `+once).Scan(&f.Events, &f.Pageviews, &f.Visitors, &f.SearchZero)
	if err != nil {
		return f, err
	}
	err = conn.QueryRow(ctx, `SELECT toInt64(count()), toInt64(sum(views = 1 AND acts = 0)), toInt64(sum(finish - start)),
		toInt64(sum(views)), uniqExact(visitor) FROM (
			SELECT session_id, any(anonymous_id) AS visitor, countIf(type = 'pageview') AS views,
			countIf(type IN ('click', 'search', 'form_submit', 'custom')) AS acts, min(time) AS start, max(time) AS finish
			FROM `+once+` GROUP BY session_id)`).Scan(&f.Visits, &f.Bounces, &f.Duration, &f.VisitPageviews, &f.VisitVisitors)
	if err != nil {
		return f, err
	}
	err = conn.QueryRow(ctx, `SELECT toInt64(count()) FROM (SELECT session_id, argMin(page_referrer, (ts, id)) AS ref
		FROM `+once+` GROUP BY session_id) WHERE ref LIKE 'https://www.google.com/%'`).Scan(&f.SourceVisitsGoogle)
	if err != nil {
		return f, err
	}
	if err := byValue(ctx, conn, `SELECT page_path, toInt64(count()) FROM `+once+` WHERE type = 'pageview' GROUP BY page_path`, f.PagePageviews); err != nil {
		return f, err
	}
	return f, byValue(ctx, conn, `SELECT entry, toInt64(count()) FROM (SELECT session_id, argMinIf(page_path, (ts, id), type = 'pageview') AS entry
		FROM `+once+` GROUP BY session_id) GROUP BY entry`, f.EntryVisits)
}

func byValue(ctx context.Context, conn driver.Conn, q string, into map[string]int64) error {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		into[k] = n
	}
	return rows.Err()
}

// sameFigures waits until the rollups and the raw events both show want.
func sameFigures(t *testing.T, conn driver.Conn, want figures) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got, err := rollups(ctx, conn)
		if err != nil {
			return false, "rollups: " + err.Error()
		}
		fromRaw, err := raw(ctx, conn)
		if err != nil {
			return false, "raw: " + err.Error()
		}
		if !equal(got, want) || !equal(fromRaw, want) {
			return false, fmt.Sprintf("\nrollups %+v\nraw     %+v\nwant    %+v", got, fromRaw, want)
		}
		return true, ""
	})
}

func equal(a, b figures) bool {
	return a.totals == b.totals && maps.Equal(a.PagePageviews, b.PagePageviews) && maps.Equal(a.EntryVisits, b.EntryVisits)
}

// A loader that dies after inserting a batch's events but before updating
// their visits, or after both but before committing, gets the batch again:
// the rollups count each event and visit once.
func TestRollupsExactWhenALoaderDiesMidBatch(t *testing.T) {
	_, conn := testenv.ClickHouse(t)
	events, want := shopTraffic()
	sink := NewClickHouse(clickhouse.ClientOf(conn))
	ctx := context.Background()
	half := len(events) / 2
	all := make([]int, len(events))
	for i := range all {
		all[i] = i
	}
	// The first delivery dies after the events insert of its first half.
	if err := sink.insertEvents(ctx, conn, events, all[:half]); err != nil {
		t.Fatal(err)
	}
	// The redelivery writes all of it; then it dies before its commit and
	// the batch comes a third time.
	for range 2 {
		if err := sink.Write(ctx, events); err != nil {
			t.Fatal(err)
		}
	}
	sameFigures(t, conn, want)
}

// A client that sends its batch twice, and a replay of the topics by a new
// consumer group, change no figure.
func TestRollupsExactWhenEventsArriveAgain(t *testing.T) {
	kc := testenv.Kafka(t)
	_, conn := testenv.ClickHouse(t)
	producer := testenv.Producer(t, kc, "rollups-test")
	events, want := shopTraffic()
	testenv.Publish(t, producer, kc.TopicPrefix, events...)
	testenv.Publish(t, producer, kc.TopicPrefix, events...) // the resend

	inspector := testenv.Inspector(t, kc)
	run := func(group string) {
		cfg := DefaultConfig()
		cfg.Group = group
		cfg.Batch = kafka.BatchPolicy{Count: 40, Bytes: 1 << 20, Age: 100 * time.Millisecond}
		l, err := New(cfg, Deps{Kafka: kc, Sink: NewClickHouse(clickhouse.ClientOf(conn)), DeadLetters: producer,
			Ops: server.NewOps(), Log: testenv.Log(t), Grace: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("loader: %v", err)
			}
			if err := inspector.DeleteGroup(group); err != nil {
				t.Logf("cleanup: %v", err)
			}
		}()
		testenv.Eventually(t, 60*time.Second, func() (bool, string) {
			var behind []string
			spans, err := inspector.Spans(event.EventTopics(kc.TopicPrefix)...)
			if err != nil {
				return false, err.Error()
			}
			for _, s := range spans {
				c, err := inspector.Committed(group, s.Topic)
				if err != nil {
					return false, err.Error()
				}
				if c[s.Partition] != s.Newest && s.Newest > s.Oldest {
					behind = append(behind, fmt.Sprintf("%s/%d %d of %d", s.Topic, s.Partition, c[s.Partition], s.Newest))
				}
			}
			slices.Sort(behind)
			return len(behind) == 0, fmt.Sprint(behind)
		})
	}
	run(testenv.Name("loader"))
	sameFigures(t, conn, want)
	run(testenv.Name("replay")) // every event again, from the oldest offset
	sameFigures(t, conn, want)
}

// Retention drops whole days of raw events past it and keeps the rollups
// and the logs, which have their own.
func TestRetentionDropsWholeDaysOfRawEvents(t *testing.T) {
	_, conn := testenv.ClickHouse(t)
	sink := NewClickHouse(clickhouse.ClientOf(conn))
	ctx := context.Background()
	now := time.Now().UTC()
	at := func(daysAgo int) *event.Event {
		ts := now.AddDate(0, 0, -daysAgo)
		return &event.Event{ID: testenv.UUID(), Type: event.Pageview, SiteID: "shop", AnonymousID: "v", SessionID: fmt.Sprint("s", daysAgo),
			TS: ts.UnixMilli(), ReceivedAt: ts.UnixMilli(), Page: &event.Page{Path: "/"}}
	}
	if err := sink.Write(ctx, []*event.Event{at(100), at(100), at(1)}); err != nil {
		t.Fatal(err)
	}
	logAt := func(daysAgo int) *event.LogRecord {
		ms := now.AddDate(0, 0, -daysAgo).UnixMilli()
		return &event.LogRecord{V: 1, ID: testenv.UUID(), SiteID: "shop", Time: ms, Service: "api", Body: "x", Attributes: map[string]string{}, ReceivedAt: ms}
	}
	if err := sink.WriteLogs(ctx, []*event.LogRecord{logAt(40), logAt(10), logAt(1)}); err != nil {
		t.Fatal(err)
	}
	count := func(q string) uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	dropped, err := sink.DropExpired(ctx, now, Retention{RawDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	if day := now.AddDate(0, 0, -100).Format("20060102"); !slices.Contains(dropped, "events:"+day) {
		t.Fatalf("dropped %v, want events:%s among them", dropped, day)
	}
	if n := count("SELECT count() FROM events"); n != 1 {
		t.Fatalf("events holds %d rows after dropping 100-day-old ones, want the recent 1", n)
	}
	if n := count("SELECT toUInt64(sumMerge(pageviews)) FROM events_hourly WHERE dimension = ''"); n != 3 {
		t.Fatalf("the rollup counts %d pageviews, want all 3: it keeps its own retention", n)
	}
	if n := count("SELECT count() FROM logs"); n != 3 {
		t.Fatalf("logs holds %d rows, want all 3: logs keep their own retention", n)
	}
	if _, err := sink.DropExpired(ctx, now, Retention{LogsDays: 30}); err != nil {
		t.Fatal(err)
	}
	if n := count("SELECT count() FROM logs"); n != 2 {
		t.Fatalf("logs holds %d rows after a 30-day logs retention, want the 2 recent ones", n)
	}
	if _, err := sink.DropExpired(ctx, now, Retention{RawDays: 30, RollupDays: 30}); err != nil {
		t.Fatal(err)
	}
	// The month of 100 days ago is over by more than 30 days: its rollup
	// partition goes; this month's stays.
	if n := count("SELECT toUInt64(sumMerge(pageviews)) FROM events_hourly WHERE dimension = ''"); n != 1 {
		t.Fatalf("the rollup counts %d pageviews after its own retention, want the recent 1", n)
	}
}
