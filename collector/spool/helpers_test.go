package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/testenv"
)

// beaconBatch is batch i as the collector would spool it: n stamped events
// of mixed types, each on its type's topic, keyed by site and device. Each
// value starts with its batch and index ("b0007r03") so tests can tell them
// apart.
func beaconBatch(i, n int) []kafka.Record {
	types := []string{"pageview", "click", "search", "custom"}
	recs := make([]kafka.Record, n)
	for j := range recs {
		typ := types[j%len(types)]
		extra := ""
		switch typ {
		case "click":
			extra = `,"click":{"selector":"nav > a.deal","text":"30% off humidifiers","href":"https://shop.example/deal","tag":"a"}`
		case "search":
			extra = `,"search":{"keyword":"humidifier","results":12}`
		case "custom":
			extra = `,"name":"add_to_basket","props":{"product":"mist-humidifier","price":49.9}`
		}
		anon := fmt.Sprintf("8c0f6a52-7f5e-4c1e-9d1f-%012d", i%7)
		value := fmt.Sprintf(`{"_t":"b%04dr%02d","id":"0b6f1c2e-4a1d-4f7e-9c55-%06d%06d","type":%q,"ts":1700000000000,`+
			`"anonymous_id":%q,"session_id":"1d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f",`+
			`"page":{"url":"https://shop.example/search?q=humidifier","path":"/search","title":"Search","referrer":"https://shop.example/"},`+
			`"context":{"locale":"en-GB","tz":"Europe/London","screen":"1920x1080"}%s,`+
			`"received_at":1700000000123,"site_id":"shop","ip":"203.0.113.0","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",`+
			`"browser":"Chrome","os":"Linux","device":"desktop"}`, i, j, i, j, typ, anon, extra)
		recs[j] = kafka.Record{Topic: "footfall." + typ, Key: []byte("shop:" + anon), Value: []byte(value)}
	}
	return recs
}

// tag is what beaconBatch put first in a record's value: "b0007r03".
func tag(r kafka.Record) string {
	v := string(r.Value)
	if i := strings.Index(v, `"_t":"`); i >= 0 && len(v) >= i+14 {
		return v[i+6 : i+14]
	}
	return v
}

// tags are the tags of batches from up to, not including, to, n records each.
func tags(from, to, n int) []string {
	var out []string
	for i := from; i < to; i++ {
		for j := range n {
			out = append(out, fmt.Sprintf("b%04dr%02d", i, j))
		}
	}
	return out
}

// fakePublisher keeps what it acknowledges. fail, if set, decides each
// call: a *kafka.PublishError keeps the records it does not fail.
type fakePublisher struct {
	mu    sync.Mutex
	got   []kafka.Record
	calls int
	fail  func(call int, recs []kafka.Record) error
}

var _ kafka.Publisher = (*fakePublisher)(nil)

func (p *fakePublisher) Publish(_ context.Context, recs []kafka.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.fail != nil {
		if err := p.fail(p.calls, recs); err != nil {
			var perr *kafka.PublishError
			if errors.As(err, &perr) {
				for i, e := range perr.Errs {
					if e == nil {
						p.got = append(p.got, recs[i])
					}
				}
			}
			return err
		}
	}
	p.got = append(p.got, recs...)
	return nil
}

func (p *fakePublisher) setFail(fail func(call int, recs []kafka.Record) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail = fail
}

func (p *fakePublisher) tags() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.got))
	for i, r := range p.got {
		out[i] = tag(r)
	}
	return out
}

func (p *fakePublisher) callCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

var errKafkaDown = errors.New("kafka: not connected")

// down fails every record of every call, as the producer does without a broker.
func down(_ int, recs []kafka.Record) error {
	errs := make([]error, len(recs))
	for i := range errs {
		errs[i] = errKafkaDown
	}
	return &kafka.PublishError{Errs: errs}
}

// testConfig is a small spool in a fresh directory.
func testConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.MaxBytes = 1 << 20
	cfg.SegmentBytes = 16 << 10
	return cfg
}

// open opens cfg's spool with its own registry and quick retries, and
// closes it when the test ends.
func open(t testing.TB, cfg Config) (*Spool, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := Open(cfg, reg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatalf("open spool: %v", err)
	}
	s.retryMin, s.retryMax = time.Millisecond, 20*time.Millisecond
	s.groupBytes = 0 // one batch per Publish: tests fail Kafka at a given call
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close spool: %v", err)
		}
	})
	return s, reg
}

func appendBatches(t testing.TB, s *Spool, from, to, n int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := s.Append(context.Background(), beaconBatch(i, n)); err != nil {
			t.Fatalf("append batch %d: %v", i, err)
		}
	}
}

// run starts s.Run and returns a function that stops it and checks that it
// returned nil; the test's end stops it too.
func run(t *testing.T, s *Spool, pub kafka.Publisher) (stop func()) {
	t.Helper()
	return testenv.Start(t, "spool", 10*time.Second, func(ctx context.Context) error { return s.Run(ctx, pub) })
}

// waitFor waits until cond holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// noLeaks checks, when the test and its cleanups are done, that it left no
// goroutine behind. Call it first, so that its check runs last.
func noLeaks(t *testing.T, opts ...goleak.Option) {
	t.Helper()
	opts = append(opts, goleak.IgnoreCurrent())
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// metric is the value of the counter or gauge name in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// segmentFiles are the segment files in dir, oldest first.
func segmentFiles(t *testing.T, dir string) []segment {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// batchesIn lists the batch tags ("b0007") each segment of dir holds.
func batchesIn(t *testing.T, dir string) map[uint64][]string {
	t.Helper()
	out := map[uint64][]string{}
	for _, seg := range segmentFiles(t, dir) {
		b, err := os.ReadFile(segmentPath(dir, seg.seq))
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(b); {
			_, recs, n, err := parseFrame(b[off:])
			if err != nil {
				t.Fatalf("segment %d at %d: %v", seg.seq, off, err)
			}
			out[seg.seq] = append(out[seg.seq], tag(recs[0])[:5])
			off += n
		}
	}
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %d %v\nwant %d %v", what, len(got), abbreviate(got), len(want), abbreviate(want))
	}
}

func abbreviate(s []string) []string {
	if len(s) <= 12 {
		return s
	}
	return append(append(slices.Clip(s[:6]), "…"), s[len(s)-6:]...)
}
