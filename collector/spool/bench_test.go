package spool

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The append benchmarks come in pairs (see docs/benchmarks.md):
// BenchmarkAppend is the spool taking a beacon-like batch of 10 events, as
// the collector appends it while Kafka is away (no drainer runs);
// BenchmarkAppendBaseline writes the same bytes to a bare os.File with the
// same fsync policy: the least any disk spool does. Each reports batches/s
// and events/s. Run them with TMPDIR on the disk the spool will use.

const benchEvents = 10

// benchCases are the fsync policies measured, and how many senders append
// at once: the collector appends from one goroutine per request.
var benchCases = []struct {
	name     string
	interval time.Duration
	senders  int
}{
	{"fsync_each_batch", 0, 1},
	{"fsync_each_batch_16_senders", 0, 16},
	{"fsync_every_100ms", 100 * time.Millisecond, 1},
}

// benchMaxBytes is where a benchmark starts over in a fresh directory, so
// that a fast run does not fill the disk.
const benchMaxBytes = 256 << 20

func BenchmarkAppend(b *testing.B) {
	recs := beaconBatch(0, benchEvents)
	size := len(encodeFrame(time.Now(), recs))
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.MaxBytes, cfg.FsyncInterval = benchMaxBytes, c.interval
			if c.senders > 1 {
				cfg.MaxBytes = 8 << 30 // fsync bounds the rate; starting over is for one sender
			}
			var s *Spool
			reopen := func() {
				if s != nil {
					if err := s.Close(); err != nil {
						b.Fatal(err)
					}
					if err := os.RemoveAll(cfg.Dir); err != nil {
						b.Fatal(err)
					}
				}
				cfg.Dir = filepath.Join(b.TempDir(), "spool")
				var err error
				if s, err = Open(cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler)); err != nil {
					b.Fatal(err)
				}
			}
			reopen()
			defer func() {
				if err := s.Close(); err != nil {
					b.Error(err)
				}
			}()
			ctx := context.Background()
			b.SetBytes(int64(size))
			if c.senders > 1 {
				b.SetParallelism(max(c.senders/maxProcs(), 1))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := s.Append(ctx, recs); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for b.Loop() {
					err := s.Append(ctx, recs)
					if errors.Is(err, ErrFull) {
						b.StopTimer()
						reopen()
						b.StartTimer()
						err = s.Append(ctx, recs)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			reportRate(b)
		})
	}
}

func BenchmarkAppendBaseline(b *testing.B) {
	frame := encodeFrame(time.Now(), beaconBatch(0, benchEvents))
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			var (
				mu      sync.Mutex
				f       *os.File
				written int
			)
			create := func() {
				if f != nil {
					if err := errors.Join(f.Close(), os.Remove(f.Name())); err != nil {
						b.Fatal(err)
					}
				}
				var err error
				if f, err = os.Create(filepath.Join(b.TempDir(), "log")); err != nil {
					b.Fatal(err)
				}
				written = 0
			}
			create()
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if c.interval > 0 {
				wg.Go(func() {
					t := time.NewTicker(c.interval)
					defer t.Stop()
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							mu.Lock()
							err := f.Sync()
							mu.Unlock()
							if err != nil {
								b.Error(err)
							}
						}
					}
				})
			}
			appendOne := func() error {
				mu.Lock()
				defer mu.Unlock()
				if _, err := f.Write(frame); err != nil {
					return err
				}
				if written += len(frame); written > benchMaxBytes && c.senders == 1 {
					b.StopTimer()
					create()
					b.StartTimer()
				}
				if c.interval == 0 {
					return f.Sync()
				}
				return nil
			}
			b.SetBytes(int64(len(frame)))
			if c.senders > 1 {
				b.SetParallelism(max(c.senders/maxProcs(), 1))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := appendOne(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for b.Loop() {
					if err := appendOne(); err != nil {
						b.Fatal(err)
					}
				}
			}
			close(stop)
			wg.Wait()
			reportRate(b)
			if err := f.Close(); err != nil {
				b.Error(err)
			}
		})
	}
}

func maxProcs() int { return runtime.GOMAXPROCS(0) }

// reportRate adds batches/s and events/s to the benchmark's line.
func reportRate(b *testing.B) {
	perSec := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(perSec, "batches/s")
	b.ReportMetric(perSec*benchEvents, "events/s")
}
