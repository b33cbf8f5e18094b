package loader

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/generate"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/testenv"
)

// benchBatch is the loader's default batch count: one Kafka batch.
const benchBatch = 10_000

// benchEvents makes batch i of the benchmarks: a day's mixed traffic of
// many visitors, as the collector encodes it onto the topics. Each i
// seeds its own ids and sessions, so dedup skips nothing, and has its own
// day two days after the last, so that what dedup and visits read (the
// batch's days, the visits' day of lookback) holds the same rows whatever
// b.N: a batch costs the same first and last.
func benchEvents(b *testing.B, i int) ([]kafka.Record, []*event.Event) {
	b.Helper()
	cfg := generate.DefaultConfig()
	cfg.Events, cfg.Days, cfg.Batch, cfg.Seed = benchBatch, 1, benchBatch, uint64(i+1)
	cfg.End = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 2*i)
	events := generate.NewStream(cfg).Batch(benchBatch)
	recs := make([]kafka.Record, len(events))
	for j, e := range events {
		v, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		recs[j] = kafka.Record{Topic: event.Topic("footfall", e.Type), Key: []byte(e.Key()), Value: v, Offset: int64(j)}
	}
	return recs, events
}

// BenchmarkLoaderSink is the loader's whole write path for one Kafka
// batch: decode, dedup against events, insert, visits.
func BenchmarkLoaderSink(b *testing.B) {
	_, conn := testenv.ClickHouse(b)
	l := &Loader{sink: NewClickHouse(clickhouse.ClientOf(conn)), m: newMetrics(prometheus.NewRegistry())}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		recs, _ := benchEvents(b, i)
		b.StartTimer()
		if err := l.HandleBatch(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkLoaderSinkBaseline inserts the same rows from memory straight
// through clickhouse-go: same table (and so the same materialized views),
// columns, batch size and LZ4 compression; no decoding, dedup or visits.
// The rows are built before the clock runs and appended one by one with
// batch.Append, the driver's ordinary way.
func BenchmarkLoaderSinkBaseline(b *testing.B) {
	_, conn := testenv.ClickHouse(b)
	ctx := context.Background()
	c := NewCeiling(conn)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		_, events := benchEvents(b, i)
		rows := Rows(events)
		b.StartTimer()
		if err := c.Insert(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "rows/s")
}
