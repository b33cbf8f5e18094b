package loader_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/IBM/sarama"

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
	t        *testing.T
	kc       kafka.Config
	conn     driver.Conn
	producer sarama.SyncProducer
	client   sarama.Client
	admin    sarama.ClusterAdmin
}

func newRig(t *testing.T) *rig {
	t.Helper()
	kc := testenv.Kafka(t)
	_, conn := testenv.ClickHouse(t)
	producer := testenv.Producer(t, kc, "footfall-loader-test")
	sc := sarama.NewConfig()
	v, err := sarama.ParseKafkaVersion(kc.Version)
	if err != nil {
		t.Fatal(err)
	}
	sc.Version = v
	client, err := sarama.NewClient(kc.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := admin.Close(); err != nil { // closes client too
			t.Errorf("close kafka admin: %v", err)
		}
	})
	return &rig{t: t, kc: kc, conn: conn, producer: producer, client: client, admin: admin}
}

// group returns a fresh consumer group name, deleted from Kafka when the
// test ends (after every loader of the test has left it).
func (r *rig) group() string {
	g := testenv.Name("loader")
	r.t.Cleanup(func() {
		if err := r.admin.DeleteConsumerGroup(g); err != nil {
			r.t.Logf("cleanup: delete consumer group %s: %v", g, err)
		}
	})
	return g
}

// startLoader runs a loader of group over sink until ctx ends or the
// returned stop is called (or the test ends). stop waits for Run to return
// and fails the test if it returned an error.
func (r *rig) startLoader(ctx context.Context, group string, sink loader.Sink) (stop func()) {
	r.t.Helper()
	cfg := loader.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Group = group
	cfg.Batch = kafka.BatchPolicy{Count: 5, Bytes: 1 << 20, Age: 100 * time.Millisecond}
	l, err := loader.New(cfg, r.kc, sink, server.NewOps(), testenv.Log(r.t).With("component", "loader"))
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, nil) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					r.t.Errorf("loader Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				r.t.Fatal("loader did not stop within 30s of its context ending")
			}
		})
	}
	r.t.Cleanup(stop)
	return stop
}

// produce sends events as the collector does and returns the messages,
// which then know their partition and offset.
func (r *rig) produce(events ...*event.Event) []*sarama.ProducerMessage {
	r.t.Helper()
	msgs := make([]*sarama.ProducerMessage, len(events))
	for i, e := range events {
		v, err := json.Marshal(e)
		if err != nil {
			r.t.Fatal(err)
		}
		msgs[i] = &sarama.ProducerMessage{
			Topic: event.Topic(r.kc.TopicPrefix, e.Type),
			Key:   sarama.StringEncoder(e.Key()),
			Value: sarama.ByteEncoder(v),
		}
	}
	if err := r.producer.SendMessages(msgs); err != nil {
		r.t.Fatalf("produce %d events: %v", len(msgs), err)
	}
	return msgs
}

// topics are the topics a loader reads.
func (r *rig) topics() []string {
	out := make([]string, 0, len(event.Types))
	for _, typ := range event.Types {
		out = append(out, event.Topic(r.kc.TopicPrefix, typ))
	}
	return out
}

// position is one partition's committed offset (-1: none) and log end.
type position struct{ committed, end int64 }

// positions returns group's position in every partition of its topics that
// holds messages, keyed "topic/partition".
func (r *rig) positions(group string) (map[string]position, error) {
	parts := map[string][]int32{}
	for _, topic := range r.topics() {
		ps, err := r.client.Partitions(topic)
		if err != nil {
			return nil, err
		}
		parts[topic] = ps
	}
	resp, err := r.admin.ListConsumerGroupOffsets(group, parts)
	if err != nil {
		return nil, err
	}
	out := map[string]position{}
	for topic, ps := range parts {
		for _, p := range ps {
			end, err := r.client.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil {
				return nil, err
			}
			if end == 0 {
				continue
			}
			pos := position{committed: -1, end: end}
			if b := resp.GetBlock(topic, p); b != nil {
				pos.committed = b.Offset
			}
			out[fmt.Sprintf("%s/%d", topic, p)] = pos
		}
	}
	return out, nil
}

// waitCaughtUp waits until group has committed everything in its topics:
// every message has been written, so the table is final for the test.
func (r *rig) waitCaughtUp(group string) {
	r.t.Helper()
	testenv.Eventually(r.t, 20*time.Second, func() (bool, string) {
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
	testenv.Eventually(r.t, 20*time.Second, func() (bool, string) {
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
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

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
