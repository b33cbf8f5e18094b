package loader_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
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

// The integration tests run loaders against the real Kafka and ClickHouse of
// deploy/local: events go in the way the collector writes them (JSON
// envelope, keyed by site and visitor, one topic per type) and come out of
// the events table.

// rig is one test's topics, ClickHouse database and Kafka clients.
type rig struct {
	t         *testing.T
	kc        kafka.Config
	conn      driver.Conn
	producer  *kafka.Producer
	inspector *kafka.Inspector
}

func newRig(t *testing.T) *rig {
	t.Helper()
	kc := testenv.Kafka(t)
	_, conn := testenv.ClickHouse(t)
	return &rig{
		t: t, kc: kc, conn: conn,
		producer:  testenv.Producer(t, kc, "footfall-loader-test"),
		inspector: testenv.Inspector(t, kc),
	}
}

// sink is the loader's ClickHouse sink over the test's database.
func (r *rig) sink() *loader.ClickHouse {
	return loader.NewClickHouse(clickhouse.ClientOf(r.conn))
}

// group returns a fresh consumer group name, deleted from Kafka when the
// test ends (after every loader of the test has left it).
func (r *rig) group() string {
	g := testenv.Name("loader")
	r.t.Cleanup(func() {
		if err := r.inspector.DeleteGroup(g); err != nil {
			r.t.Logf("cleanup: %v", err)
		}
	})
	return g
}

// startLoader runs a loader of group over sink until ctx ends or the
// returned stop is called (or the test ends). Records it can never load go
// to the dead-letter topic through the rig's producer. stop waits for Run
// to return and fails the test if it returned an error.
func (r *rig) startLoader(ctx context.Context, group string, sink loader.Sink) (stop func()) {
	r.t.Helper()
	cfg := loader.DefaultConfig()
	cfg.Group = group
	cfg.Batch = kafka.BatchPolicy{Count: 5, Bytes: 1 << 20, Age: 100 * time.Millisecond}
	l, err := loader.New(cfg, loader.Deps{
		Kafka: r.kc, Sink: sink, DeadLetters: r.producer, Ops: server.NewOps(),
		Log: testenv.Log(r.t).With("component", "loader"), Grace: 10 * time.Second,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return testenv.Start(r.t, "loader", 30*time.Second, func(runCtx context.Context) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		context.AfterFunc(runCtx, cancel)
		return l.Run(ctx)
	})
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

// read returns every record topics hold now.
func (r *rig) read(topics ...string) []kafka.Record {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	byTopic, err := r.inspector.ReadAll(ctx, topics...)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []kafka.Record
	for _, topic := range topics {
		out = append(out, byTopic[topic]...)
	}
	return out
}

// located returns the record each event was stored as, which knows its
// partition and offset.
func (r *rig) located(events []*event.Event) []kafka.Record {
	r.t.Helper()
	byID := map[string]kafka.Record{}
	for _, rec := range r.read(r.topics()...) {
		var e event.Event
		if json.Unmarshal(rec.Value, &e) == nil {
			byID[e.ID] = rec
		}
	}
	out := make([]kafka.Record, len(events))
	for i, e := range events {
		rec, ok := byID[e.ID]
		if !ok {
			r.t.Fatalf("event %s is not in Kafka", e.ID)
		}
		out[i] = rec
	}
	return out
}

// topics are the topics a loader reads.
func (r *rig) topics() []string { return event.EventTopics(r.kc.TopicPrefix) }

// position is one partition's committed offset (-1: none) and log end.
type position struct{ committed, end int64 }

// positions returns group's position in every partition of its topics that
// holds messages, keyed "topic/partition".
func (r *rig) positions(group string) (map[string]position, error) {
	spans, err := r.inspector.Spans(r.topics()...)
	if err != nil {
		return nil, err
	}
	committed := map[string]map[int32]int64{}
	out := map[string]position{}
	for _, s := range spans {
		if s.Newest == 0 {
			continue
		}
		if committed[s.Topic] == nil {
			if committed[s.Topic], err = r.inspector.Committed(group, s.Topic); err != nil {
				return nil, err
			}
		}
		pos := position{committed: -1, end: s.Newest}
		if off, ok := committed[s.Topic][s.Partition]; ok {
			pos.committed = off
		}
		out[fmt.Sprintf("%s/%d", s.Topic, s.Partition)] = pos
	}
	return out, nil
}

// waitCaughtUp waits until group has committed everything in its topics:
// every message has been written, so the table is final for the test.
func (r *rig) waitCaughtUp(group string) {
	r.t.Helper()
	testenv.Eventually(r.t, 30*time.Second, func() (bool, string) {
		pos, err := r.positions(group)
		if err != nil {
			return false, err.Error()
		}
		var behind []string
		for tp, p := range pos {
			if p.committed != p.end {
				behind = append(behind, fmt.Sprintf("%s committed %d of %d", tp, p.committed, p.end))
			}
		}
		sort.Strings(behind)
		return len(behind) == 0, strings.Join(behind, ", ")
	})
}

// counts is what a user asks the events table: raw rows, rows after
// ReplacingMergeTree folds duplicates, and distinct ids.
type counts struct{ raw, final, distinct uint64 }

func (r *rig) counts() (counts, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var c counts
	if err := r.conn.QueryRow(ctx, "SELECT count(), uniqExact(id) FROM events").Scan(&c.raw, &c.distinct); err != nil {
		return c, err
	}
	if err := r.conn.QueryRow(ctx, "SELECT count() FROM events FINAL").Scan(&c.final); err != nil {
		return c, err
	}
	return c, nil
}

// waitDistinct waits until the events table holds n distinct ids.
func (r *rig) waitDistinct(n uint64) {
	r.t.Helper()
	testenv.Eventually(r.t, 30*time.Second, func() (bool, string) {
		c, err := r.counts()
		if err != nil {
			return false, err.Error()
		}
		return c.distinct == n, fmt.Sprintf("%+v, want %d distinct ids", c, n)
	})
}

// ids returns the ids in the events table, with how many raw rows each has.
func (r *rig) ids() map[string]uint64 {
	r.t.Helper()
	rows, err := r.conn.Query(context.Background(), "SELECT id, count() FROM events GROUP BY id")
	if err != nil {
		r.t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string]uint64{}
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			r.t.Fatal(err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// newID returns a random UUID v4, as the beacon makes them.
func newID() string { return testenv.UUID() }

// visit returns n events of one visitor, cycling through the types a shopper
// sends, stamped as the collector stamps them.
func visit(n int, visitor string) []*event.Event {
	now := time.Now()
	out := make([]*event.Event, n)
	for i := range out {
		e := &event.Event{
			ID: newID(), TS: now.UnixMilli() - int64(n-i), AnonymousID: visitor,
			Page:   &event.Page{URL: fmt.Sprintf("https://shop.example/p/%d", i), Path: fmt.Sprintf("/p/%d", i)},
			SiteID: "shop", ReceivedAt: now.UnixMilli(),
		}
		switch i % 4 {
		case 0:
			e.Type = event.Pageview
		case 1:
			e.Type, e.Search = event.Search, &event.SearchDetail{Keyword: fmt.Sprintf("query %d", i)}
		case 2:
			e.Type, e.Click = event.Click, &event.ClickDetail{Href: fmt.Sprintf("/p/%d", i+1)}
		case 3:
			e.Type, e.Scroll = event.Scroll, &event.ScrollDetail{DepthPct: 50}
		}
		out[i] = e
	}
	return out
}

// pageviews returns n pageviews of one visitor: one topic, one partition.
func pageviews(n int, visitor string) []*event.Event {
	out := visit(4*n, visitor)
	views := make([]*event.Event, 0, n)
	for _, e := range out {
		if e.Type == event.Pageview {
			views = append(views, e)
		}
	}
	return views
}

// failure is how one write attempt of a flakySink goes.
type failure int

const (
	succeed    failure = iota
	failBefore         // the database is down: nothing is inserted
	failAfter          // the insert lands but its answer is lost
)

var errOutage = errors.New("test: clickhouse unavailable")

// flakySink wraps the real sink, fails attempts as plan decides (nil: never)
// and records what reached ClickHouse.
type flakySink struct {
	next     loader.Sink
	plan     func(attempt int) failure
	mu       sync.Mutex
	attempts int
	failures int
	resent   int            // events of batches whose insert landed but failed
	written  map[string]int // inserts per event id
}

func (s *flakySink) Write(ctx context.Context, events []*event.Event) error {
	s.mu.Lock()
	s.attempts++
	f := succeed
	if s.plan != nil {
		f = s.plan(s.attempts)
	}
	if f != succeed {
		s.failures++
	}
	s.mu.Unlock()
	if f == failBefore {
		return errOutage
	}
	if err := s.next.Write(ctx, events); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written == nil {
		s.written = map[string]int{}
	}
	for _, e := range events {
		s.written[e.ID]++
	}
	if f == failAfter {
		s.resent += len(events)
		return errOutage
	}
	return nil
}

func (s *flakySink) stats() (attempts, failures, resent int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts, s.failures, s.resent
}

// inserted returns how many times each event id was inserted.
func (s *flakySink) inserted() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.written))
	for id, n := range s.written {
		out[id] = n
	}
	return out
}
