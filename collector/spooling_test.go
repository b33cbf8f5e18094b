package collector

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/footfall/footfall/collector/spool"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
)

// stuckPublisher is a Kafka that takes requests and never answers: each
// Publish returns only when its context ends.
type stuckPublisher struct {
	mu    sync.Mutex
	calls int
}

func (p *stuckPublisher) Publish(ctx context.Context, recs []kafka.Record) error {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	<-ctx.Done()
	errs := make([]error, len(recs))
	for i := range errs {
		errs[i] = ctx.Err()
	}
	return &kafka.PublishError{Errs: errs}
}

func (p *stuckPublisher) callCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// newSpoolingCollector is newTestCollector with a spool of maxBytes in a
// temporary directory (none when maxBytes is 0); no drainer runs.
func newSpoolingCollector(t *testing.T, pub kafka.Publisher, maxBytes int64) (*Collector, *spool.Spool) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Sites = Sites{writeKey: "shop"}
	ops := server.NewOps()
	var sp *spool.Spool
	if maxBytes > 0 {
		scfg := spool.DefaultConfig()
		scfg.Dir, scfg.MaxBytes, scfg.SegmentBytes = t.TempDir(), maxBytes, 16<<10
		var err error
		if sp, err = spool.Open(scfg, ops.Registry(), slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := sp.Close(); err != nil {
				t.Errorf("close spool: %v", err)
			}
		})
	}
	c, err := New(cfg, Deps{Publisher: pub, Spool: sp, Ops: ops, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ops.AddCheck("kafka", c.readiness(func(context.Context) error { return errors.New("kafka: not connected") }))
	return c, sp
}

// timedPost posts one pageview with id and says how long the answer took.
func timedPost(t *testing.T, c *Collector, id string) (*http.Response, batchResponse, time.Duration) {
	t.Helper()
	start := time.Now()
	res, br := post(t, c, []byte(`{"site":"`+writeKey+`","events":[`+ev(id, "pageview", "")+`]}`), nil)
	return res, br, time.Since(start)
}

// A Kafka that never answers costs a batch --collector-spool-after, then
// the spool takes it and the answer is 200; while the spool holds records
// the next batches go behind them without asking Kafka.
func TestStuckKafkaSpoolsAfterTheDeadline(t *testing.T) {
	pub := &stuckPublisher{}
	c, sp := newSpoolingCollector(t, pub, 1<<20)
	res, br, took := timedPost(t, c, id1)
	if res.StatusCode != http.StatusOK || br.Accepted != 1 {
		t.Fatalf("answer %d %+v, want 200 with 1 accepted", res.StatusCode, br)
	}
	if after := c.cfg.Spool.After; took < after || took > after+200*time.Millisecond {
		t.Errorf("answered after %s, want just over --collector-spool-after=%s", took, after)
	}
	res, _, took = timedPost(t, c, id2)
	if res.StatusCode != http.StatusOK || took > 100*time.Millisecond {
		t.Errorf("second batch: %d after %s, want 200 straight from the spool", res.StatusCode, took)
	}
	if n := pub.callCount(); n != 1 {
		t.Errorf("Kafka was asked %d times, want once: the second batch belongs behind the spooled one", n)
	}
	if u := sp.Usage(); u.Records != 2 {
		t.Errorf("the spool holds %d records, want 2", u.Records)
	}
	w := serve(c, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"degraded"`) {
		t.Errorf("/readyz: %d %s, want 200 degraded", w.Code, w.Body)
	}
}

// Without a spool, a Kafka that never answers is a 503 within a second.
func TestStuckKafkaWithoutSpoolIs503WithinASecond(t *testing.T) {
	c, _ := newSpoolingCollector(t, &stuckPublisher{}, 0)
	res, br, took := timedPost(t, c, id1)
	if res.StatusCode != http.StatusServiceUnavailable || br.Error != reasonKafkaUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("answer %d %+v Retry-After %q, want 503 kafka_unavailable with Retry-After", res.StatusCode, br, res.Header.Get("Retry-After"))
	}
	if took < storeDeadline || took > time.Second {
		t.Errorf("answered after %s, want between %s and 1s", took, storeDeadline)
	}
}

// A full spool is a 503 with the reason and Retry-After, counted; so is a
// batch larger than the whole spool. Readiness turns 503 once it is full.
func TestSpoolFullIs503(t *testing.T) {
	c, _ := newSpoolingCollector(t, &recordingPublisher{err: kafka.ErrNotConnected}, 64<<10)
	var res *http.Response
	var br batchResponse
	for i := 0; i < 200; i++ {
		if res, br, _ = timedPost(t, c, newID(t)); res.StatusCode != http.StatusOK {
			break
		}
	}
	if res.StatusCode != http.StatusServiceUnavailable || br.Error != reasonSpoolFull || res.Header.Get("Retry-After") != "5" {
		t.Fatalf("answer %d %+v Retry-After %q, want 503 spool_full with Retry-After 5", res.StatusCode, br, res.Header.Get("Retry-After"))
	}
	w := serve(c, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "spool is full") {
		t.Errorf("/readyz: %d %s, want 503 naming the full spool", w.Code, w.Body)
	}
	if got := refusedCount(t, c, reasonSpoolFull); got < 1 {
		t.Errorf("footfall_collector_batches_refused_total{reason=spool_full} = %v, want at least 1", got)
	}
}

func TestBatchLargerThanTheSpoolIs503(t *testing.T) {
	c, _ := newSpoolingCollector(t, &recordingPublisher{err: kafka.ErrNotConnected}, 64<<10)
	var events []string
	for range 200 {
		events = append(events, ev(newID(t), "pageview", `,"page":{"url":"https://shop.example/`+strings.Repeat("x", 200)+`"}`))
	}
	res, br := post(t, c, batchOf(writeKey, events...), nil)
	if res.StatusCode != http.StatusServiceUnavailable || br.Error != reasonSpoolTooLarge {
		t.Fatalf("answer %d %+v, want 503 spool_too_large", res.StatusCode, br)
	}
}

// refusedCount is footfall_collector_batches_refused_total{reason}.
func refusedCount(t *testing.T, c *Collector, reason event.Reason) float64 {
	t.Helper()
	return counter(t, c, "footfall_collector_batches_refused_total", reason)
}

func TestSpoolingValidate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*Spooling)
		flag   string
	}{
		{"defaults", func(*Spooling) {}, ""},
		{"off ignores the rest", func(s *Spooling) { s.Enabled, s.Dir, s.After = false, "", 0 }, ""},
		{"no deadline", func(s *Spooling) { s.After = 0 }, "collector-spool-after"},
		{"deadline leaves no time to spool", func(s *Spooling) { s.After = time.Second }, "collector-spool-after"},
		{"no directory", func(s *Spooling) { s.Dir = "" }, "collector-spool-dir"},
		{"tiny spool", func(s *Spooling) { s.MaxBytes = 1024 }, "collector-spool-max-bytes"},
		{"negative fsync interval", func(s *Spooling) { s.FsyncInterval = -time.Second }, "collector-spool-fsync-interval"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSpooling()
			tt.change(&s)
			err := s.Validate()
			var invalid *config.InvalidError
			switch {
			case tt.flag == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tt.flag != "" && (!errors.As(err, &invalid) || invalid.Flag != tt.flag):
				t.Fatalf("Validate = %v, want an error naming --%s", err, tt.flag)
			}
		})
	}
}
