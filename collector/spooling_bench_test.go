package collector

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/footfall/footfall/collector/spool"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
)

// downPublisher is a producer without a broker: it fails every record at
// once, as kafka.Producer does before it has connected.
type downPublisher struct{}

func (downPublisher) Publish(_ context.Context, recs []kafka.Record) error {
	errs := make([]error, len(recs))
	for i := range errs {
		errs[i] = kafka.ErrNotConnected
	}
	return &kafka.PublishError{Errs: errs}
}

// BenchmarkIntakeSpooled is POST /v1/batch with Kafka down: every batch
// goes through the collector into the spool, with the default fsync policy
// (an fsync per batch before the answer; concurrent requests share one).
// It reports events/s into the spool, for one sender at a time and for 16
// at once. BenchmarkIntakeSpooledBaseline sends the same requests to a
// collector whose Kafka acknowledges at once (dropPublisher): the ratio is
// what the spool costs a request. Run them with TMPDIR on the disk the
// spool will use:
//
//	go test -run '^$' -bench 'BenchmarkIntakeSpooled' -count 3 ./collector/ | go run ./cmd/benchratio
func BenchmarkIntakeSpooled(b *testing.B) { benchIntakeSpooled(b, true) }

func BenchmarkIntakeSpooledBaseline(b *testing.B) { benchIntakeSpooled(b, false) }

func benchIntakeSpooled(b *testing.B, spooled bool) {
	for _, c := range []struct{ events, senders int }{{10, 1}, {10, 16}, {50, 1}, {50, 16}} {
		b.Run(fmt.Sprintf("%d_events_%d_senders", c.events, c.senders), func(b *testing.B) {
			ops := server.NewOps()
			deps := Deps{Publisher: dropPublisher{}, Ops: ops, Log: slog.New(slog.DiscardHandler)}
			if spooled {
				scfg := spool.DefaultConfig()
				scfg.Dir, scfg.MaxBytes = b.TempDir(), 64<<30 // never full within a benchmark
				sp, err := spool.Open(scfg, ops.Registry(), slog.New(slog.DiscardHandler))
				if err != nil {
					b.Fatal(err)
				}
				defer func() {
					if err := sp.Close(); err != nil {
						b.Error(err)
					}
				}()
				deps.Publisher, deps.Spool = downPublisher{}, sp
			}
			cfg := DefaultConfig()
			cfg.Sites = Sites{writeKey: "shop"}
			cfg.Rate.IP, cfg.Rate.IPBurst = 1e12, 1<<30 // as in BenchmarkIntake: looked up, never reached
			col, err := New(cfg, deps)
			if err != nil {
				b.Fatal(err)
			}
			h, body := col.Handler(), benchBody(c.events)
			// A disk whose fsync stalls past the collector's deadline gets
			// 503 spool_unavailable: counted, so the rate says what was
			// answered 200.
			var refused atomic.Int64
			post := func() error {
				req := httptest.NewRequest(http.MethodPost, "/v1/batch", bytes.NewReader(body))
				req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
				req.Header.Set("User-Agent", linuxChrome)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				switch {
				case w.Code == http.StatusOK:
				case w.Code == http.StatusServiceUnavailable && strings.Contains(w.Body.String(), string(reasonSpoolUnavailable)):
					refused.Add(1)
				default:
					return fmt.Errorf("status %d: %s", w.Code, w.Body)
				}
				return nil
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			if c.senders > 1 {
				b.SetParallelism(max(c.senders/runtime.GOMAXPROCS(0), 1))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := post(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for b.Loop() {
					if err := post(); err != nil {
						b.Fatal(err)
					}
				}
			}
			answered := (int64(b.N) - refused.Load()) * int64(c.events)
			b.ReportMetric(float64(answered)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(refused.Load()), "refused")
		})
	}
}
