package enricher

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/pgoffsets"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/migrations"
)

// These tests and benchmarks drive the enricher's apply path directly on
// a fresh PostgreSQL database with the demo catalog: batches as the
// consumer group hands them over, without Kafka in between.

// newApplier returns an enricher of group on a fresh database, and its pool.
func newApplier(tb testing.TB, group string) (*Enricher, *pgxpool.Pool) {
	tb.Helper()
	pool := testenv.Postgres(tb)
	if err := migrations.SeedDemo(context.Background(), pool); err != nil {
		tb.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Group = group
	return &Enricher{
		cfg: cfg, store: newStore(pool, group, liveTables),
		catalog: &catalog{pool: pool, ttl: cfg.CatalogRefresh},
		log:     testenv.Log(tb), m: newMetrics(prometheus.NewRegistry()), now: time.Now,
	}, pool
}

// record encodes ev as the collector writes it onto topic/partition.
func record(tb testing.TB, ev *event.Event, partition int32, offset int64) kafka.Record {
	tb.Helper()
	v, err := json.Marshal(ev)
	if err != nil {
		tb.Fatal(err)
	}
	return kafka.Record{Topic: event.Topic("footfall", ev.Type), Partition: partition, Offset: offset, Key: []byte(ev.Key()), Value: v}
}

// searchEvent is visitor's search for keyword.
func searchEvent(visitor, keyword string, at time.Time) *event.Event {
	return &event.Event{
		ID: testenv.UUID(), Type: event.Search, TS: at.UnixMilli(), AnonymousID: visitor,
		Page:   &event.Page{URL: "https://shop.example/demo/search.html", Path: "/demo/search.html"},
		Search: &event.SearchDetail{Keyword: keyword},
		SiteID: "demo", ReceivedAt: at.UnixMilli(), SearchKeyword: keyword, Date: at.UnixMilli(),
	}
}

// userScore returns visitor's score for promotion, 0 without a row.
func userScore(t *testing.T, pool *pgxpool.Pool, visitor, promotion string) float64 {
	t.Helper()
	var s float64
	err := pool.QueryRow(context.Background(), `
		SELECT coalesce(sum(score), 0) FROM user_promotions
		WHERE site_id = 'demo' AND user_key = $1 AND promotion_id = $2`, visitor, promotion).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Two members holding different partitions apply their batches side by
// side: one member's open transaction does not hold up the other's commit.
// A member applying a partition another member holds in an open
// transaction (both hold it during a rebalance) waits for it, then finds
// the batch applied and adds nothing. Both on the partitions' first
// batches (no offset rows yet) and on later ones.
func TestApplyLocksOnlyTheBatchPartitions(t *testing.T) {
	e, pool := newApplier(t, testenv.Name("enricher"))
	now := time.Now()
	w := defaultSearchWeight

	applyWhileHeld(t, e, pool,
		[]kafka.Record{
			record(t, searchEvent("anon-zero", "humidifier", now), 0, 0),
			record(t, searchEvent("anon-zero", "kettle", now), 0, 1),
		},
		[]kafka.Record{record(t, searchEvent("anon-one", "humidifier", now), 1, 0)})
	checkScores(t, pool, map[[2]string]float64{
		{"anon-zero", "humidifier-deal"}: w, {"anon-zero", "kettle-deal"}: w, {"anon-one", "humidifier-deal"}: w,
	})
	checkOffsets(t, e, map[int32]int64{0: 2, 1: 1})

	applyWhileHeld(t, e, pool,
		[]kafka.Record{record(t, searchEvent("anon-zero", "kettles", now), 0, 2)},
		[]kafka.Record{record(t, searchEvent("anon-one", "tea kettle", now), 1, 1)})
	checkScores(t, pool, map[[2]string]float64{
		{"anon-zero", "humidifier-deal"}: w, {"anon-zero", "kettle-deal"}: 2 * w,
		{"anon-one", "humidifier-deal"}: w, {"anon-one", "kettle-deal"}: w,
	})
	checkOffsets(t, e, map[int32]int64{0: 3, 1: 2})
}

// applyWhileHeld applies held in a transaction it keeps open while other
// (on other partitions) must commit within a deadline, and a second member
// applying held again must wait until the first commits.
func applyWhileHeld(t *testing.T, e *Enricher, pool *pgxpool.Pool, held, other []kafka.Record) {
	t.Helper()
	ctx := context.Background()
	promos, err := e.catalog.get(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := e.apply(ctx, tx, promos, held); err != nil {
		t.Fatal(err)
	}

	deadline, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.HandleBatch(deadline, other); err != nil {
		t.Fatalf("a batch of other partitions while one is held: %v (after %v): members block each other", err, time.Since(start))
	}
	t.Logf("another partition committed in %v while one was held", time.Since(start).Round(time.Millisecond))

	second := make(chan error, 1)
	go func() { second <- e.HandleBatch(ctx, held) }()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		var waiting int
		err := pool.QueryRow(ctx, `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			return false, err.Error()
		}
		return waiting == 1, "the second member's batch of the held partition is not waiting on a lock"
	})
	select {
	case err := <-second:
		t.Fatalf("a second member applied a partition while the first held it (err %v)", err)
	default:
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-second:
		if err != nil {
			t.Fatalf("the second member's batch of the held partition: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second member's batch still waits after the first committed")
	}
}

// checkScores compares user_promotions with want, by visitor and promotion.
func checkScores(t *testing.T, pool *pgxpool.Pool, want map[[2]string]float64) {
	t.Helper()
	for k, w := range want {
		if got := userScore(t, pool, k[0], k[1]); got != w {
			t.Errorf("%s's %s score is %v, want %v: each event once", k[0], k[1], got, w)
		}
	}
}

// checkOffsets compares the stored offsets of the search topic with want.
func checkOffsets(t *testing.T, e *Enricher, want map[int32]int64) {
	t.Helper()
	next, err := pgoffsets.Next(context.Background(), e.store.pool, e.store.group, "footfall.search")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(next, want) {
		t.Errorf("stored offsets %v, want %v", next, want)
	}
}

// Only events that change something are recorded in processed_events: a
// search that matches no promotion is skipped without a row, a matching
// one is recorded, and its resend (a later offset) is a duplicate.
func TestApplyRecordsOnlyEventsThatChangeSomething(t *testing.T) {
	e, pool := newApplier(t, testenv.Name("enricher"))
	reg := prometheus.NewRegistry()
	e.m = newMetrics(reg)
	ctx := context.Background()
	now := time.Now()
	kettle := searchEvent("anon-k", "kettle", now)
	batch := []kafka.Record{
		record(t, searchEvent("anon-k", "socks", now), 0, 0),
		record(t, kettle, 0, 1),
	}
	if err := e.HandleBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := e.HandleBatch(ctx, []kafka.Record{record(t, kettle, 0, 2)}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	rows, err := pool.Query(ctx, `SELECT event_id::text FROM processed_events`)
	if err != nil {
		t.Fatal(err)
	}
	if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{kettle.ID}) {
		t.Errorf("processed_events holds %v, want only the matching search %s", ids, kettle.ID)
	}
	checkScores(t, pool, map[[2]string]float64{{"anon-k", "kettle-deal"}: defaultSearchWeight})
	checkOffsets(t, e, map[int32]int64{0: 3})
	skipped := map[string]float64{}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "footfall_enricher_events_skipped_total" {
			for _, m := range f.GetMetric() {
				skipped[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if want := (map[string]float64{"no_match": 1, "duplicate_event": 1}); !maps.Equal(skipped, want) {
		t.Errorf("skipped events by reason %v, want %v", skipped, want)
	}
}

// defaultSearchWeight is the default rule set's (migration 0004).
const defaultSearchWeight = 10.0
