package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/kafka"
)

// These tests need no services: they run in `make unit`.

func TestAppendThenDrainInOrder(t *testing.T) {
	noLeaks(t)
	cfg := testConfig(t)
	s, reg := open(t, cfg)
	appendBatches(t, s, 0, 40, 10) // about 25 segments of 16 KiB
	if n := len(segmentFiles(t, cfg.Dir)); n < 3 {
		t.Fatalf("%d segments; the test wants several", n)
	}
	pub := &fakePublisher{}
	run(t, s, pub)
	waitFor(t, "400 records drained", func() bool { return len(pub.tags()) == 400 })
	equal(t, "records in Kafka", pub.tags(), tags(0, 40, 10))
	waitFor(t, "every segment deleted", func() bool { return len(segmentFiles(t, cfg.Dir)) == 0 })
	if got := metric(t, reg, "footfall_collector_spool_bytes"); got != 0 {
		t.Errorf("spool_bytes = %v after draining; want 0", got)
	}

	// Batches appended while the drainer waits go the same way.
	appendBatches(t, s, 40, 45, 10)
	waitFor(t, "450 records drained", func() bool { return len(pub.tags()) == 450 })
	equal(t, "records in Kafka", pub.tags(), tags(0, 45, 10))
}

// Many senders append at once, as the collector's requests do: each
// sender's batches reach Kafka in its order, none lost, none twice.
func TestConcurrentAppendsKeepEachSendersOrder(t *testing.T) {
	noLeaks(t)
	s, _ := open(t, testConfig(t))
	pub := &fakePublisher{}
	run(t, s, pub)
	const senders, each = 8, 25
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				if err := s.Append(context.Background(), beaconBatch(g*100+i, 2)); err != nil {
					t.Errorf("sender %d batch %d: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, "every record drained", func() bool { return len(pub.tags()) == senders*each*2 })
	bySender := map[int][]string{}
	for _, tg := range pub.tags() {
		var b int
		if _, err := fmt.Sscanf(tg, "b%04d", &b); err != nil {
			t.Fatal(err)
		}
		bySender[b/100] = append(bySender[b/100], tg)
	}
	for g := range senders {
		equal(t, fmt.Sprintf("sender %d's records in Kafka", g), bySender[g], tags(g*100, g*100+each, 2))
	}
}

func TestKafkaDownKeepsRecordsAndRetries(t *testing.T) {
	noLeaks(t)
	cfg := testConfig(t)
	s, reg := open(t, cfg)
	pub := &fakePublisher{fail: down}
	run(t, s, pub)
	appendBatches(t, s, 0, 30, 10)
	waitFor(t, "retries", func() bool { return pub.callCount() >= 5 })
	if got := metric(t, reg, "footfall_collector_spool_records"); got != 300 {
		t.Fatalf("spool_records = %v while Kafka is down; want 300", got)
	}
	if got := batchesIn(t, cfg.Dir); len(got) < 2 {
		t.Fatalf("segments while Kafka is down: %v", got)
	}

	pub.setFail(nil) // Kafka is back
	waitFor(t, "300 records drained", func() bool { return len(pub.tags()) == 300 })
	equal(t, "records in Kafka", pub.tags(), tags(0, 30, 10))
	if got := metric(t, reg, "footfall_collector_spool_drain_errors_total"); got < 4 {
		t.Errorf("drain_errors_total = %v; want one per failed call (%d)", got, pub.callCount()-1)
	}
}

// Kafka takes some records of a batch: only the others go again.
func TestPartialFailureResendsOnlyTheFailedRecords(t *testing.T) {
	noLeaks(t)
	s, _ := open(t, testConfig(t))
	pub := &fakePublisher{fail: func(call int, recs []kafka.Record) error {
		if call > 1 {
			return nil
		}
		errs := make([]error, len(recs))
		for i := range errs {
			if i%2 == 1 {
				errs[i] = errors.New("kafka: NOT_LEADER_FOR_PARTITION")
			}
		}
		return &kafka.PublishError{Errs: errs}
	}}
	appendBatches(t, s, 0, 1, 6)
	run(t, s, pub)
	waitFor(t, "6 records", func() bool { return len(pub.tags()) == 6 })
	equal(t, "records in Kafka", pub.tags(), []string{"b0000r00", "b0000r02", "b0000r04", "b0000r01", "b0000r03", "b0000r05"})
}

func TestFullAnswersErrFullUntilDrained(t *testing.T) {
	noLeaks(t)
	cfg := testConfig(t)
	cfg.MaxBytes, cfg.SegmentBytes = 64<<10, 16<<10
	s, reg := open(t, cfg)
	var n int
	for ; ; n++ {
		err := s.Append(context.Background(), beaconBatch(n, 10))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil || n > 1000 {
			t.Fatalf("append %d: %v; want ErrFull at 64 KiB", n, err)
		}
	}
	if got := metric(t, reg, "footfall_collector_spool_bytes"); got > float64(cfg.MaxBytes) || got < float64(cfg.MaxBytes)*0.8 {
		t.Errorf("spool_bytes = %v when full; want just under %d", got, cfg.MaxBytes)
	}

	pub := &fakePublisher{}
	run(t, s, pub)
	waitFor(t, "the full spool drained", func() bool { return len(pub.tags()) == n*10 })
	appendBatches(t, s, n, n+1, 10)
	waitFor(t, "the next batch drained", func() bool { return len(pub.tags()) == (n+1)*10 })
	equal(t, "records in Kafka", pub.tags(), tags(0, n+1, 10))
}

func TestBatchLargerThanTheSpool(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxBytes, cfg.SegmentBytes = 64<<10, 16<<10
	s, _ := open(t, cfg)
	err := s.Append(context.Background(), []kafka.Record{{Topic: "t", Value: make([]byte, 64<<10)}})
	if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrFull) {
		t.Fatalf("append 64 KiB to a 64 KiB spool: %v; want ErrTooLarge", err)
	}
	// A batch larger than a segment has one of its own.
	if err := s.Append(context.Background(), []kafka.Record{{Topic: "t", Value: make([]byte, 40<<10)}}); err != nil {
		t.Fatalf("append 40 KiB with 16 KiB segments: %v", err)
	}
}

func TestFsyncInterval(t *testing.T) {
	noLeaks(t)
	cfg := testConfig(t)
	cfg.FsyncInterval = 5 * time.Millisecond
	s, _ := open(t, cfg)
	appendBatches(t, s, 0, 3, 10)
	waitFor(t, "the background fsync", func() bool {
		s.syncMu.Lock()
		defer s.syncMu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.synced == s.lsn
	})
	pub := &fakePublisher{}
	run(t, s, pub)
	waitFor(t, "30 records drained", func() bool { return len(pub.tags()) == 30 })
}

func TestAppendAfterClose(t *testing.T) {
	s, _ := open(t, testConfig(t))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), beaconBatch(0, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v; want ErrClosed", err)
	}
}

func TestOneProcessPerDirectory(t *testing.T) {
	cfg := testConfig(t)
	s, _ := open(t, cfg)
	if _, err := Open(cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open of %s: %v; want it refused", cfg.Dir, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, cfg) // free again
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		flag string
		edit func(*Config)
	}{
		{"", func(*Config) {}},
		{"collector-spool-dir", func(c *Config) { c.Dir = "" }},
		{"collector-spool-max-bytes", func(c *Config) { c.MaxBytes = 1000 }},
		{"collector-spool-segment-bytes", func(c *Config) { c.SegmentBytes = 100 }},
		{"collector-spool-segment-bytes", func(c *Config) { c.SegmentBytes = c.MaxBytes + 1 }},
		{"collector-spool-fsync-interval", func(c *Config) { c.FsyncInterval = -time.Second }},
	} {
		cfg := DefaultConfig()
		cfg.Dir = "spool"
		c.edit(&cfg)
		err := cfg.Validate()
		var inv *config.InvalidError
		switch {
		case c.flag == "" && err != nil:
			t.Errorf("defaults: %v", err)
		case c.flag != "" && (!errors.As(err, &inv) || inv.Flag != c.flag):
			t.Errorf("%+v: %v; want an error naming --%s", cfg, err, c.flag)
		}
	}
}
