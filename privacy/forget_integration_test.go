package privacy_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/privacy"
)

// TestEnricherTypes: the forget waits for the enricher on the topics it
// reads.
func TestEnricherTypes(t *testing.T) {
	if !slices.Equal(privacy.EnricherTypes, enricher.Types) {
		t.Fatalf("privacy.EnricherTypes %v, enricher.Types %v", privacy.EnricherTypes, enricher.Types)
	}
}

// TestIntegrationForget: user A with two devices and user B visit on two
// days; B's visits are copied to a control site. After forgetting A, no
// table of either database holds A's user id or anonymous ids, the site's
// rollups are the control site's (B alone), the promotions view answers A
// with defaults, and A's new events are answered 2xx, counted, and stored
// nowhere, until the suppression is lifted.
func TestIntegrationForget(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	a1 := visitor{anon: "anon-a1", user: "user-a", session: "s-a1"}
	a2 := visitor{anon: "anon-a2", user: "user-a", session: "s-a2"}
	b := visitor{anon: "anon-b1", user: "user-b", session: "s-b1"}
	aIDs := []string{"user-a", "anon-a1", "anon-a2"}
	now := time.Now().UTC()
	yesterday, today := now.Add(-24*time.Hour).Truncate(time.Hour).Add(5*time.Minute), now.Add(-time.Minute)

	var all []*event.Event
	var aEventIDs []string
	for _, day := range []time.Time{yesterday, today} {
		dev := a1
		if day == today {
			dev = a2
		}
		for _, e := range dev.events(site, day) {
			all, aEventIDs = append(all, e), append(aEventIDs, e.ID)
		}
		all = append(all, b.events(site, day.Add(10*time.Second))...)
		all = append(all, b.events(control, day.Add(10*time.Second))...)
	}
	r.produce(all...)
	r.insertLog(site, "payment declined", map[string]string{"enduser.id": "user-a", "order": "o-1"})
	r.insertLog(site, "cart saved", map[string]string{"anonymous_id": "anon-a1"})
	r.insertLog(site, "payment accepted", map[string]string{"enduser.id": "user-b"})
	// Reviews A and B wrote (the reviews API stores them so).
	for _, author := range []string{"user-a", "user-b"} {
		if _, err := r.pool.Exec(ctx, `INSERT INTO reviews (site_id, id, product_id, author_id, rating, body) VALUES ($1, $2, 'kettle', $3, 4, 'Boils fast.')`,
			site, testenv.UUID(), author); err != nil {
			t.Fatal(err)
		}
	}

	// Everything is stored, and the promotions view knows A's interest.
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		n := r.count("SELECT count() FROM events")
		var links int
		if err := r.pool.QueryRow(ctx, `SELECT count(*) FROM identities WHERE site_id = $1`, site).Scan(&links); err != nil {
			t.Fatal(err)
		}
		return n == uint64(len(all)) && links == 3, fmt.Sprintf("%d of %d events in clickhouse, %d of 3 links", n, len(all), links)
	})
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		// The loader writes visits once their events are in; their
		// rollup rows are written just after.
		var demo, ctl int64
		if err := r.conn.QueryRow(ctx, `SELECT sumMergeIf(visits, site_id = ?), sumMergeIf(visits, site_id = ?)
			FROM sessions_hourly WHERE dimension = ''`, site, control).Scan(&demo, &ctl); err != nil {
			t.Fatal(err)
		}
		return demo == 3 && ctl == 1, fmt.Sprintf("%d of 3 visits, %d of 1 on the control site", demo, ctl)
	})
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		got := r.promotionsOf("user-a")
		return personal(got) && personal(r.promotionsOf("user-b")), fmt.Sprintf("user-a: %v", got)
	})
	// The counts above are right as soon as each visit has a row: a visit
	// whose events fell into two of the loader's batches is rewritten
	// after them, and its rollup rows with it. Read the control site's
	// figures once the loader has committed everything.
	r.loaded()
	controlBefore := r.rollups(control)
	if len(controlBefore) == 0 {
		t.Fatal("the control site has no rollups")
	}

	res, err := r.forget.Forget(ctx, site, "user-a", func(s privacy.Step, d string) { t.Logf("forget: %s %s", s, d) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("forget: %+v", res)
	if res.AnonymousIDs != 2 || !res.Waited {
		t.Errorf("forget found %d anonymous ids, waited %v; want 2, true", res.AnonymousIDs, res.Waited)
	}
	want := map[string]int64{"events": int64(len(aEventIDs)), "logs": 2, "identities": 2, "known_users": 1, "reviews": 1}
	for _, c := range res.Counts {
		if w, ok := want[c.Table]; ok && c.Rows != w {
			t.Errorf("%s %s: %d %s, want %d", c.Store, c.Table, c.Rows, c.Unit, w)
		}
	}

	t.Run("no table holds A", func(t *testing.T) {
		r.t = t
		r.noneInPostgres(aIDs, aEventIDs)
		r.noneInClickHouse(aIDs)
	})
	t.Run("the site's figures are B's alone", func(t *testing.T) {
		r.t = t
		if got := r.rollups(control); !slices.Equal(got, controlBefore) {
			t.Errorf("the control site's rollups changed:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(controlBefore, "\n"))
		}
		if got := r.rollups(site); !slices.Equal(got, controlBefore) {
			t.Errorf("the site's rollups after the forget:\n%s\nwant B's alone (the control site's):\n%s", strings.Join(got, "\n"), strings.Join(controlBefore, "\n"))
		}
		if n := r.count("SELECT count() FROM logs WHERE site_id = ?", site); n != 1 {
			t.Errorf("%d log records left, want B's 1", n)
		}
	})
	t.Run("the promotions view forgets A", func(t *testing.T) {
		r.t = t
		testenv.Eventually(t, 20*time.Second, func() (bool, string) {
			got := r.promotionsOf("anon-a1")
			return !personal(r.promotionsOf("user-a")) && !personal(got), fmt.Sprintf("anon-a1: %v", got)
		})
		if got := r.promotionsOf("user-b"); !personal(got) {
			t.Errorf("user-b lost their promotions: %v", got)
		}
	})
	t.Run("a new event of A is dropped and counted", func(t *testing.T) {
		r.t = t
		// The late events below are dropped by the loader and the enricher
		// on the strength of their own sets.
		r.setsSay(true, aIDs...)
		code, id := r.post("anon-a1")
		if code != http.StatusOK {
			t.Fatalf("collector answered %d, want 200", code)
		}
		if n := metric(t, r.collectorOps.Registry(), "footfall_collector_events_suppressed_total"); n != 1 {
			t.Errorf("footfall_collector_events_suppressed_total = %v, want 1", n)
		}
		// One sent past the collector (as a collector whose set lagged
		// would): the loader and the enricher drop it.
		late := a2.events(site, time.Now())[1:]
		r.produce(late...)
		r.produceLog(site, "a's late log", map[string]string{"enduser.id": "user-a"})
		marker := b.events(site, time.Now())[1]
		r.produce(marker)
		r.produceLog(site, "b's marker log", map[string]string{"enduser.id": "user-b"})
		testenv.Eventually(t, 30*time.Second, func() (bool, string) {
			return r.count("SELECT count() FROM events WHERE id = ?", marker.ID) == 1 &&
				r.count("SELECT count() FROM logs WHERE body = 'b''s marker log'") == 1, "the marker event and log are not loaded"
		})
		// The marker's partition is not necessarily the late events': wait
		// until the loader has been through every record, so that what it
		// dropped is counted and what it wrote is in.
		r.loaded()
		if n := r.count("SELECT count() FROM logs WHERE body = 'a''s late log'"); n != 0 {
			t.Errorf("a log record naming the forgotten user was loaded %d times", n)
		}
		if r.inKafka(id) {
			t.Error("the collector sent a suppressed event to kafka")
		}
		if n := metric(t, r.loaderOps.Registry(), "footfall_loader_messages_skipped_total", "reason", "suppressed"); n < float64(len(late)) {
			t.Errorf("loader skipped %v suppressed events, want %d", n, len(late))
		}
		r.noneInClickHouse(aIDs)
		r.noneInPostgres(aIDs, nil)
	})
	t.Run("forget runs again and finds nothing", func(t *testing.T) {
		r.t = t
		res, err := r.forget.Forget(ctx, site, "user-a", nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.AnonymousIDs != 2 {
			t.Errorf("found %d anonymous ids (from the suppressions), want 2", res.AnonymousIDs)
		}
		for _, c := range res.Counts {
			if c.Unit == privacy.UnitRows && c.Rows != 0 {
				t.Errorf("deleted %d rows of %s again", c.Rows, c.Table)
			}
		}
	})
	t.Run("after a lift A's events are taken again", func(t *testing.T) {
		r.t = t
		n, err := r.forget.Lift(ctx, site, "user-a")
		if err != nil || n != 3 {
			t.Fatalf("lift: %d ids, %v; want 3", n, err)
		}
		r.setsSay(false, aIDs...)
		code, id := r.post("anon-a1")
		if code != http.StatusOK {
			t.Fatalf("collector answered %d, want 200", code)
		}
		testenv.Eventually(t, 30*time.Second, func() (bool, string) {
			return r.count("SELECT count() FROM events WHERE id = ?", id) == 1, "the event after the lift is not loaded"
		})
	})
}

// rollups lists the site's hourly figures (testenv.Rollups).
func (r *rig) rollups(s string) []string {
	r.t.Helper()
	return testenv.Rollups(r.t, r.conn, s)
}

// noneInPostgres asks every text column of every table whether it holds
// one of ids, and processed_events whether it holds one of eventIDs.
func (r *rig) noneInPostgres(ids, eventIDs []string) {
	r.t.Helper()
	ctx := context.Background()
	rows, err := r.pool.Query(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type IN ('text', 'ARRAY', 'jsonb')`)
	if err != nil {
		r.t.Fatal(err)
	}
	type col struct{ table, column, typ string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.column, &c.typ); err != nil {
			r.t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if len(cols) < 10 {
		r.t.Fatalf("only %d text columns found", len(cols))
	}
	for _, c := range cols {
		cond := map[string]string{
			"text":  `%q = ANY($1)`,
			"ARRAY": `%q::text[] && $1`,
			"jsonb": `EXISTS (SELECT 1 FROM unnest($1::text[]) x WHERE strpos(%q::text, x) > 0)`,
		}[c.typ]
		var n int
		q := fmt.Sprintf(`SELECT count(*) FROM %q WHERE `+cond, c.table, c.column)
		if err := r.pool.QueryRow(ctx, q, ids).Scan(&n); err != nil {
			r.t.Fatalf("%s: %v", q, err)
		}
		if n > 0 {
			r.t.Errorf("postgresql %s.%s: %d rows hold one of %v", c.table, c.column, n, ids)
		}
	}
	var n int
	if err := r.pool.QueryRow(ctx, `SELECT count(*) FROM processed_events WHERE event_id::text = ANY($1)`, eventIDs).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	if n > 0 {
		r.t.Errorf("processed_events holds %d of the visitor's events", n)
	}
}

// noneInClickHouse asks every string column of every table whether it
// holds one of ids.
func (r *rig) noneInClickHouse(ids []string) {
	r.t.Helper()
	for _, held := range testenv.Holding(r.t, r.conn, "engine NOT IN ('MaterializedView', 'View')", ids) {
		r.t.Errorf("clickhouse %s hold one of %v", held, ids)
	}
}
