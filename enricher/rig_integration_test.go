package enricher_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/migrations"
)

// The integration tests run enrichers against the real Kafka and PostgreSQL
// of deploy/local, with the demo shop's catalog: searches and clicks go in
// as the collector writes them, user_promotions is what comes out.

const site = "demo"

// The default rule set's weights (migration 0004).
const (
	searchWeight = 10.0
	clickWeight  = 5.0
	viewWeight   = 2.0
)

// rig is one test's topics, database and Kafka clients.
type rig struct {
	t         *testing.T
	kc        kafka.Config
	pool      *pgxpool.Pool
	producer  *kafka.Producer
	inspector *kafka.Inspector
}

func newRig(t *testing.T) *rig {
	t.Helper()
	kc := testenv.Kafka(t)
	pool := testenv.Postgres(t)
	if err := migrations.SeedDemo(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	// Events a few milliseconds apart would decay each other's points by
	// a few millionths: with a half-life of 10²⁰ seconds the tests
	// that count events see whole sums. Decay has its own test.
	if _, err := pool.Exec(context.Background(), `UPDATE rule_sets SET half_life_seconds = 1e20 WHERE site_id = $1`, site); err != nil {
		t.Fatal(err)
	}
	return &rig{
		t: t, kc: kc, pool: pool,
		producer:  testenv.Producer(t, kc, "footfall-enricher-test"),
		inspector: testenv.Inspector(t, kc),
	}
}

// group returns a fresh consumer group name, deleted from Kafka when the
// test ends (after every enricher of the test has left it).
func (r *rig) group() string {
	g := testenv.Name("enricher")
	r.t.Cleanup(func() {
		if err := r.inspector.DeleteGroup(g); err != nil {
			r.t.Logf("cleanup: %v", err)
		}
	})
	return g
}

// config is the enricher's default configuration, made quick for tests.
func config(group string) enricher.Config {
	cfg := enricher.DefaultConfig()
	cfg.Group = group
	cfg.Batch.Age = 200 * time.Millisecond // resends produced together share a batch
	return cfg
}

// startEnricher runs an enricher until the returned stop is called (or the
// test ends). stop waits for Run and fails the test if it returned an error.
func (r *rig) startEnricher(cfg enricher.Config) (stop func()) {
	r.t.Helper()
	return r.startEnricherWith(cfg, server.NewOps())
}

// startEnricherWith is startEnricher with the enricher's metrics and
// readiness on ops. Records it can never apply go to the dead-letter topic
// through the rig's producer.
func (r *rig) startEnricherWith(cfg enricher.Config, ops *server.Ops) (stop func()) {
	r.t.Helper()
	e, err := enricher.New(cfg, enricher.Deps{
		Kafka: r.kc, Pool: r.pool, DeadLetters: r.producer, Updates: r.producer, Ops: ops,
		Log: testenv.Log(r.t).With("component", "enricher"), Grace: 10 * time.Second,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return testenv.Start(r.t, "enricher", 30*time.Second, e.Run)
}

// produce sends events as the collector does.
func (r *rig) produce(events ...*event.Event) {
	r.t.Helper()
	testenv.Publish(r.t, r.producer, r.kc.TopicPrefix, events...)
}

// publish sends records as they are, bypassing the collector's checks.
func (r *rig) publish(recs ...kafka.Record) {
	r.t.Helper()
	testenv.PublishRecords(r.t, r.producer, recs...)
}

// read returns every record topic holds now.
func (r *rig) read(topic string) []kafka.Record {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := r.inspector.ReadAll(ctx, topic)
	if err != nil {
		r.t.Fatal(err)
	}
	return recs[topic]
}

// counter is testenv.Counter of ops's registry.
func counter(t *testing.T, ops *server.Ops, name string, labels map[string]string) float64 {
	t.Helper()
	return testenv.Counter(t, ops.Registry(), name, labels)
}

// topics are the topics an enricher reads.
func (r *rig) topics() []string {
	out := make([]string, len(enricher.Types))
	for i, typ := range enricher.Types {
		out[i] = event.Topic(r.kc.TopicPrefix, typ)
	}
	return out
}

// storedOffsets returns the next offsets group stored in PostgreSQL, keyed
// "topic/partition".
func (r *rig) storedOffsets(group string) (map[string]int64, error) {
	stored := map[string]int64{}
	rows, err := r.pool.Query(context.Background(), `SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1`, group)
	if err != nil {
		return nil, err
	}
	var topic string
	var p int32
	var off int64
	if _, err := pgx.ForEachRow(rows, []any{&topic, &p, &off}, func() error {
		stored[fmt.Sprintf("%s/%d", topic, p)] = off
		return nil
	}); err != nil {
		return nil, err
	}
	return stored, nil
}

// waitApplied waits until the offsets group stored in PostgreSQL reach the
// end of every partition that holds messages: everything produced so far
// has been applied, so user_promotions is final for the test.
func (r *rig) waitApplied(group string) {
	r.t.Helper()
	testenv.Eventually(r.t, 30*time.Second, func() (bool, string) {
		stored, err := r.storedOffsets(group)
		if err != nil {
			return false, err.Error()
		}
		spans, err := r.inspector.Spans(r.topics()...)
		if err != nil {
			return false, err.Error()
		}
		var behind []string
		for _, s := range spans {
			if tp := fmt.Sprintf("%s/%d", s.Topic, s.Partition); s.Newest > 0 && stored[tp] != s.Newest {
				behind = append(behind, fmt.Sprintf("%s stored %d of %d", tp, stored[tp], s.Newest))
			}
		}
		sort.Strings(behind)
		return len(behind) == 0, strings.Join(behind, ", ")
	})
}

// userPromotion is one user_promotions row.
type userPromotion struct {
	Score       float64
	Reason      string
	LastEventAt time.Time
	ExpiresAt   time.Time
}

// promotions returns a visitor's user_promotions rows by promotion id.
func (r *rig) promotions(user string) map[string]userPromotion {
	r.t.Helper()
	rows, err := r.pool.Query(context.Background(), `
		SELECT promotion_id, score, reason, last_event_at, expires_at
		FROM user_promotions WHERE site_id = $1 AND user_key = $2`, site, user)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]userPromotion{}
	var id string
	var p userPromotion
	if _, err := pgx.ForEachRow(rows, []any{&id, &p.Score, &p.Reason, &p.LastEventAt, &p.ExpiresAt}, func() error {
		out[id] = p
		return nil
	}); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// scores returns a visitor's score per promotion id.
func (r *rig) scores(user string) map[string]float64 {
	r.t.Helper()
	out := map[string]float64{}
	for id, p := range r.promotions(user) {
		out[id] = p.Score
	}
	return out
}

// newID returns a random UUID v4, as the beacon makes them.
func newID() string { return testenv.UUID() }

// search is a visitor's site search, stamped as the collector stamps it.
func search(visitor, keyword string) *event.Event {
	now := time.Now()
	url := "https://shop.example/demo/search.html?q=" + strings.ReplaceAll(strings.TrimSpace(keyword), " ", "+")
	return &event.Event{
		ID: newID(), Type: event.Search, TS: now.UnixMilli(), AnonymousID: visitor,
		Page:   &event.Page{URL: url, Path: "/demo/search.html"},
		Search: &event.SearchDetail{Keyword: keyword},
		SiteID: site, ReceivedAt: now.UnixMilli(),
		PageURL: url, SearchKeyword: keyword, Date: now.UnixMilli(),
	}
}

// click is a visitor's click on a link to href.
func click(visitor, href string) *event.Event {
	now := time.Now()
	return &event.Event{
		ID: newID(), Type: event.Click, TS: now.UnixMilli(), AnonymousID: visitor,
		Page:   &event.Page{URL: "https://shop.example/demo/index.html", Path: "/demo/index.html"},
		Click:  &event.ClickDetail{Selector: "a.promo", Href: href, Tag: "a"},
		SiteID: site, ReceivedAt: now.UnixMilli(),
	}
}

// forgetKafkaOffsets deletes group, whose members have all left, from
// Kafka, and checks Kafka holds no offset of it any more: then only the
// offsets stored in PostgreSQL know what was applied.
func (r *rig) forgetKafkaOffsets(group string) {
	r.t.Helper()
	if err := r.inspector.DeleteGroup(group); err != nil {
		r.t.Fatalf("forget the group's Kafka offsets: %v", err)
	}
	for _, topic := range r.topics() {
		committed, err := r.inspector.Committed(group, topic)
		if err != nil {
			r.t.Fatal(err)
		}
		for p, off := range committed {
			r.t.Fatalf("Kafka still has offset %d of %s/%d for the group", off, topic, p)
		}
	}
}
