package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/kafka/kafkatest"
	"github.com/footfall/footfall/internal/testenv"
)

// These tests run the consumer-group runner against an in-process Kafka
// (kfake): no services needed, so they run in `make unit`.

const (
	topic = "test.events"
	dead  = "test.dead"
)

// recorder is a BatchHandler that keeps what it wrote. fail, if set, decides
// each call's outcome before anything is kept.
type recorder struct {
	mu      sync.Mutex
	written []kafka.Record
	calls   int
	fail    func(recs []kafka.Record) error
}

func (h *recorder) HandleBatch(_ context.Context, recs []kafka.Record) error {
	h.mu.Lock()
	h.calls++
	fail := h.fail
	h.mu.Unlock()
	if fail != nil {
		if err := fail(recs); err != nil {
			return err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.written = append(h.written, recs...)
	return nil
}

func (h *recorder) offsets() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]int64, 0, len(h.written))
	for _, r := range h.written {
		out = append(out, r.Offset)
	}
	return out
}

func (h *recorder) callCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

// storingRecorder also keeps offsets, as the enricher does in PostgreSQL.
type storingRecorder struct {
	recorder
	next     map[int32]int64
	storeErr error // NextOffsets fails with it while set
	skipped  []kafka.Record
}

func (h *storingRecorder) NextOffsets(context.Context, string) (map[int32]int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.next, h.storeErr
}

func (h *storingRecorder) SkipRecords(_ context.Context, recs []kafka.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.skipped = append(h.skipped, recs...)
	return nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func producer(t *testing.T, kc kafka.Config) *kafka.Producer {
	t.Helper()
	p, err := kafka.NewProducer(kc, "test-producer", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close producer: %v", err)
		}
	})
	waitFor(t, "the producer to connect", func() bool { return p.Ready(context.Background()) == nil })
	return p
}

// produce writes values to topic, keyed by key (one key: one partition).
func produce(t *testing.T, p *kafka.Producer, key string, values ...string) {
	t.Helper()
	recs := make([]kafka.Record, len(values))
	for i, v := range values {
		recs[i] = kafka.Record{Topic: topic, Key: []byte(key), Value: []byte(v)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Publish(ctx, recs); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func values(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}

type member struct {
	g    *kafka.Group
	reg  *prometheus.Registry
	stop func()
}

// join runs a group member until the returned stop (or the test's end).
func join(t *testing.T, kc kafka.Config, gc kafka.GroupConfig, h kafka.BatchHandler, dl kafka.Publisher) *member {
	t.Helper()
	reg := prometheus.NewRegistry()
	g, err := kafka.NewGroup(kc, gc, h, dl, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	stop := testenv.Start(t, "group", 30*time.Second, g.Run)
	return &member{g: g, reg: reg, stop: stop}
}

func groupConfig(name string) kafka.GroupConfig {
	return kafka.GroupConfig{
		Group: name, Topics: []string{topic}, DeadLetterTopic: dead,
		Batch: kafka.BatchPolicy{Count: 100, Bytes: 1 << 20, Age: 20 * time.Millisecond},
		Grace: time.Second,
	}
}

// committed reads the group's committed offsets of topic from Kafka; a
// partition without one is absent.
func committed(t *testing.T, kc kafka.Config, group string) map[int32]int64 {
	t.Helper()
	admin := newAdmin(t, kc)
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1}})
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		return map[int32]int64{}
	}
	if err != nil {
		t.Fatalf("list offsets of %s: %v", group, err)
	}
	out := map[int32]int64{}
	for p, b := range resp.Blocks[topic] {
		if b.Offset >= 0 {
			out[p] = b.Offset
		}
	}
	return out
}

func newAdmin(t *testing.T, kc kafka.Config) sarama.ClusterAdmin {
	t.Helper()
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_0_0_0
	admin, err := sarama.NewClusterAdmin(kc.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	return admin
}

// commit leaves the group's committed offset of partition 0 at next, as a
// previous member without an offset store would have: produce next
// records, consume them, leave.
func commit(t *testing.T, kc kafka.Config, p *kafka.Producer, group string, next int) {
	t.Helper()
	produce(t, p, "a", values("v", 0, next)...)
	m := join(t, kc, groupConfig(group), &recorder{}, p)
	waitFor(t, "the previous member's commit", func() bool { return committed(t, kc, group)[0] == int64(next) })
	m.stop()
}

func TestGroupCommitsOnlyAfterTheWrite(t *testing.T) {
	kc := kafkatest.Cluster(t, 1, topic, dead)
	p := producer(t, kc)
	produce(t, p, "a", values("v", 0, 5)...)

	allow := make(chan struct{})
	h := &recorder{fail: func([]kafka.Record) error {
		select {
		case <-allow:
			return nil
		default:
			return errors.New("database down")
		}
	}}
	m := join(t, kc, groupConfig("commit-after-write"), h, p)
	waitFor(t, "the write to be retried", func() bool { return h.callCount() >= 2 })
	if got := committed(t, kc, "commit-after-write"); len(got) != 0 {
		t.Fatalf("committed %v while every write failed", got)
	}
	close(allow)
	waitFor(t, "the commit after the write", func() bool { return committed(t, kc, "commit-after-write")[0] == 5 })
	if got := h.offsets(); !slices.Equal(got, []int64{0, 1, 2, 3, 4}) {
		t.Fatalf("written offsets %v, want 0..4 once each", got)
	}
	if n := metric(t, m.reg, "footfall_consumer_write_errors_total", ""); n < 1 {
		t.Fatalf("write errors counted %v, want the failures counted", n)
	}
}

func TestGroupDoesNotCommitABatchAbandonedOnShutdown(t *testing.T) {
	kc := kafkatest.Cluster(t, 1, topic, dead)
	p := producer(t, kc)
	produce(t, p, "a", values("v", 0, 3)...)

	failing := &recorder{fail: func([]kafka.Record) error { return errors.New("database down") }}
	m := join(t, kc, groupConfig("abandon"), failing, p)
	waitFor(t, "a failed write", func() bool { return failing.callCount() >= 1 })
	m.stop()
	if got := committed(t, kc, "abandon"); len(got) != 0 {
		t.Fatalf("committed %v for a batch that was never written", got)
	}

	next := &recorder{}
	join(t, kc, groupConfig("abandon"), next, p)
	waitFor(t, "the next member to get the batch", func() bool { return len(next.offsets()) == 3 })
	if got := next.offsets(); !slices.Equal(got, []int64{0, 1, 2}) {
		t.Fatalf("next member wrote %v, want the abandoned 0..2", got)
	}
}

func TestGroupWritesTheBatchInHandAcrossARebalance(t *testing.T) {
	kc := kafkatest.Cluster(t, 2, topic, dead)
	p := producer(t, kc)
	for i := range 10 {
		produce(t, p, "key-"+strconv.Itoa(i), "first-"+strconv.Itoa(i))
	}

	// a's first write blocks until the rebalance has started: the batch is
	// in its hands when its session ends.
	release := make(chan struct{})
	var once sync.Once
	a := &recorder{}
	a.fail = func([]kafka.Record) error {
		once.Do(func() { <-release })
		return nil
	}
	ma := join(t, kc, groupConfig("rebalance"), a, p)
	waitFor(t, "a's first write", func() bool { return a.callCount() >= 1 })

	b := &recorder{}
	mb := join(t, kc, groupConfig("rebalance"), b, p)
	waitFor(t, "the rebalance to reach a", func() bool { return ma.g.Ready(context.Background()) != nil })
	close(release)
	waitFor(t, "both members in the new generation", func() bool {
		return ma.g.Ready(context.Background()) == nil && mb.g.Ready(context.Background()) == nil
	})
	for i := range 10 {
		produce(t, p, "key-"+strconv.Itoa(i), "second-"+strconv.Itoa(i))
	}
	waitFor(t, "all 20 records written", func() bool { return len(a.offsets())+len(b.offsets()) >= 20 })
	ma.stop()
	mb.stop()

	seen := map[string]int{}
	for _, h := range []*recorder{a, b} {
		for _, r := range h.written {
			seen[string(r.Value)]++
		}
	}
	for _, v := range append(values("first-", 0, 10), values("second-", 0, 10)...) {
		if seen[v] != 1 {
			t.Errorf("%s written %d times, want once", v, seen[v])
		}
	}
	total := int64(0)
	for _, off := range committed(t, kc, "rebalance") {
		total += off
	}
	if total != 20 {
		t.Errorf("committed offsets add up to %d, want 20", total)
	}
}

func TestGroupRetriesAFailingWriteWithoutSkipping(t *testing.T) {
	kc := kafkatest.Cluster(t, 1, topic, dead)
	p := producer(t, kc)
	produce(t, p, "a", values("v", 0, 4)...)

	failures := 3
	h := &recorder{}
	h.fail = func([]kafka.Record) error {
		if failures > 0 {
			failures--
			return fmt.Errorf("connection refused")
		}
		return nil
	}
	m := join(t, kc, groupConfig("retry"), h, p)
	waitFor(t, "the write to succeed", func() bool { return len(h.offsets()) == 4 })
	produce(t, p, "a", "v4")
	waitFor(t, "the next record", func() bool { return len(h.offsets()) == 5 })
	if got := h.offsets(); !slices.Equal(got, []int64{0, 1, 2, 3, 4}) {
		t.Fatalf("written %v, want 0..4 in order, none skipped", got)
	}
	if got := metric(t, m.reg, "footfall_consumer_write_errors_total", ""); got != 3 {
		t.Fatalf("write errors = %v, want 3", got)
	}
	waitFor(t, "the commit", func() bool { return committed(t, kc, "retry")[0] == 5 })
}

func TestGroupDeadLettersARecordRefusedPermanently(t *testing.T) {
	kc := kafkatest.Cluster(t, 1, topic, dead)
	p := producer(t, kc)
	produce(t, p, "a", "ok-0", "ok-1", "poison", "ok-3", "ok-4")

	h := &storingRecorder{}
	h.fail = func(recs []kafka.Record) error {
		for _, r := range recs {
			if string(r.Value) == "poison" {
				return kafka.Permanent(errors.New(`invalid input syntax for type uuid: "poison"`))
			}
		}
		return nil
	}
	m := join(t, kc, groupConfig("poison"), h, p)
	waitFor(t, "the group to move past the poison", func() bool { return committed(t, kc, "poison")[0] == 5 })

	var good []string
	for _, r := range h.written {
		good = append(good, string(r.Value))
	}
	if !slices.Equal(good, []string{"ok-0", "ok-1", "ok-3", "ok-4"}) {
		t.Fatalf("written %v, want every good record once, in order", good)
	}
	if len(h.skipped) != 1 || h.skipped[0].Offset != 2 {
		t.Fatalf("offset store told of %+v, want offset 2 skipped", h.skipped)
	}
	if got := metric(t, m.reg, "footfall_consumer_dead_letters_total", topic); got != 1 {
		t.Fatalf("dead letters counted %v, want 1", got)
	}

	msgs := consumeAll(t, kc, dead, 1)
	dl := msgs[0]
	if string(dl.Value) != "poison" || string(dl.Key) != "a" {
		t.Fatalf("dead letter %q key %q, want the original record", dl.Value, dl.Key)
	}
	want := map[string]string{
		kafka.HeaderDeadReason: `invalid input syntax for type uuid: "poison"`,
		kafka.HeaderDeadTopic:  topic, kafka.HeaderDeadPartition: "0", kafka.HeaderDeadOffset: "2",
		kafka.HeaderDeadGroup: "poison",
	}
	for k, v := range want {
		if got := string(dl.Header(k)); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

func TestGroupResumesExactlyFromStoredOffsets(t *testing.T) {
	tests := []struct {
		name        string
		kafkaOffset int64 // -1: Kafka holds none for the group
	}{
		{"kafka has no committed offset", -1},
		{"kafka's offset is behind", 2},
		{"kafka's offset is ahead", 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc := kafkatest.Cluster(t, 1, topic, dead)
			p := producer(t, kc)
			from := 0
			if tt.kafkaOffset >= 0 {
				commit(t, kc, p, "stored", int(tt.kafkaOffset))
				from = int(tt.kafkaOffset)
			}
			produce(t, p, "a", values("v", from, 10)...)
			h := &storingRecorder{next: map[int32]int64{0: 5}}
			join(t, kc, groupConfig("stored"), h, p)
			waitFor(t, "records 5..9", func() bool { return len(h.offsets()) >= 5 })
			if got := h.offsets(); !slices.Equal(got, []int64{5, 6, 7, 8, 9}) {
				t.Fatalf("read offsets %v, want exactly the stored 5..9", got)
			}
		})
	}
}

// consumeAll reads n records of t from the start.
func consumeAll(t *testing.T, kc kafka.Config, topicName string, n int) []kafka.Record {
	t.Helper()
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_0_0_0
	c, err := sarama.NewConsumer(kc.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topicName, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var out []kafka.Record
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			r := kafka.Record{Topic: m.Topic, Key: m.Key, Value: m.Value, Partition: m.Partition, Offset: m.Offset}
			for _, h := range m.Headers {
				r.Headers = append(r.Headers, kafka.Header{Key: string(h.Key), Value: h.Value})
			}
			out = append(out, r)
		case <-timeout:
			t.Fatalf("read %d of %d records from %s", len(out), n, topicName)
		}
	}
	return out
}

// metric is the value of the counter name in reg; topic, if not empty,
// selects the series with that topic label.
func metric(t *testing.T, reg *prometheus.Registry, name, topicLabel string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := topicLabel == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "topic" && l.GetValue() == topicLabel {
					match = true
				}
			}
			if match {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestGroupDeadLettersTheRecordAHandlerNames(t *testing.T) {
	kc := kafkatest.Cluster(t, 1, topic, dead)
	p := producer(t, kc)
	produce(t, p, "a", "ok-0", "not json", "ok-2")

	h := &recorder{}
	h.fail = func(recs []kafka.Record) error {
		for i, r := range recs {
			if string(r.Value) == "not json" {
				return &kafka.RecordError{Index: i, Err: errors.New("undecodable")}
			}
		}
		return nil
	}
	join(t, kc, groupConfig("named"), h, p)
	waitFor(t, "the group to move past the bad record", func() bool { return committed(t, kc, "named")[0] == 3 })
	var good []string
	for _, r := range h.written {
		good = append(good, string(r.Value))
	}
	if !slices.Equal(good, []string{"ok-0", "ok-2"}) {
		t.Fatalf("written %v, want ok-0 and ok-2", good)
	}
	if dl := consumeAll(t, kc, dead, 1)[0]; string(dl.Value) != "not json" || string(dl.Header(kafka.HeaderDeadReason)) != "undecodable" {
		t.Fatalf("dead letter %q (%q), want the named record and its reason", dl.Value, dl.Header(kafka.HeaderDeadReason))
	}
}

// A member whose offset store is down at start stays out of the group,
// says why, and joins once the store answers.
func TestGroupWaitsForItsOffsetStore(t *testing.T) {
	kc := kafkatest.Cluster(t, 1, topic, dead)
	p := producer(t, kc)
	produce(t, p, "a", values("v", 0, 3)...)

	h := &storingRecorder{next: map[int32]int64{0: 1}, storeErr: errors.New("postgres: connection refused")}
	m := join(t, kc, groupConfig("store-down"), h, p)
	waitFor(t, "readiness to name the store's error", func() bool {
		err := m.g.Ready(context.Background())
		return err != nil && strings.Contains(err.Error(), "connection refused")
	})
	if got := h.offsets(); len(got) != 0 {
		t.Fatalf("wrote %v without its stored offsets", got)
	}
	h.mu.Lock()
	h.storeErr = nil
	h.mu.Unlock()
	waitFor(t, "records 1..2 once the store answers", func() bool { return len(h.offsets()) == 2 })
	if got := h.offsets(); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("wrote %v, want 1, 2 from the stored offset", got)
	}
	if err := m.g.Ready(context.Background()); err != nil {
		t.Fatalf("not ready after joining: %v", err)
	}
}

// TestCoPartitionedMembersHoldAKeyOfEveryTopic: with CoPartitioned, the
// member that reads a key's records of one topic reads its records of the
// other too (the loader folds a visit from its events of every type).
func TestCoPartitionedMembersHoldAKeyOfEveryTopic(t *testing.T) {
	const other = "test.clicks"
	kc := kafkatest.Cluster(t, 6, topic, other, dead)
	p := producer(t, kc)
	gc := groupConfig("copartitioned")
	gc.Topics, gc.CoPartitioned = []string{topic, other}, true
	a, b := &recorder{}, &recorder{}
	ma, mb := join(t, kc, gc, a, p), join(t, kc, gc, b, p)
	waitFor(t, "both members in one generation", func() bool {
		return ma.g.Ready(context.Background()) == nil && mb.g.Ready(context.Background()) == nil
	})
	var recs []kafka.Record
	for i := range 40 {
		key := []byte("visitor-" + strconv.Itoa(i))
		recs = append(recs, kafka.Record{Topic: topic, Key: key, Value: key}, kafka.Record{Topic: other, Key: key, Value: key})
	}
	if err := p.Publish(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all 80 records written", func() bool { return len(a.offsets())+len(b.offsets()) >= 80 })
	holder := map[string]map[string]string{} // key -> topic -> member
	for name, h := range map[string]*recorder{"a": a, "b": b} {
		for _, r := range h.written {
			if holder[string(r.Key)] == nil {
				holder[string(r.Key)] = map[string]string{}
			}
			holder[string(r.Key)][r.Topic] = name
		}
	}
	for key, by := range holder {
		if by[topic] != by[other] {
			t.Errorf("%s: its %s records read by %s, its %s records by %s", key, topic, by[topic], other, by[other])
		}
	}
	if len(a.offsets()) == 0 || len(b.offsets()) == 0 {
		t.Errorf("a read %d records, b %d: both members should hold partitions", len(a.offsets()), len(b.offsets()))
	}
}
