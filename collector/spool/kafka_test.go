package spool

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/kafka/kafkatest"
)

// The drainer with Footfall's real producer, against an in-process Kafka
// (kfake): what a previous process spooled arrives on each record's topic,
// in order, once, a few batches per Publish.
func TestDrainToKafka(t *testing.T) {
	// sarama's metrics library keeps one ticker goroutine for the process.
	noLeaks(t, goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"))
	topics := []string{"footfall.pageview", "footfall.click", "footfall.search", "footfall.custom"}
	kc := kafkatest.Cluster(t, 1, topics...)

	cfg := testConfig(t)
	s, _ := open(t, cfg)
	appendBatches(t, s, 0, 30, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, reg := open(t, cfg)
	s.groupBytes = 20 << 10 // two or three batches at once, and the segment's end

	p, err := kafka.NewProducer(kc, "test-spool", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close producer: %v", err)
		}
	})
	run(t, s, p) // before the producer has connected: the first attempts may fail
	waitFor(t, "the spool drained", func() bool {
		return metric(t, reg, "footfall_collector_spool_drained_total") == 300 && len(segmentFiles(t, cfg.Dir)) == 0
	})

	in, err := kafka.NewInspector(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := in.Close(); err != nil {
			t.Errorf("close inspector: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := in.ReadAll(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for i := range 30 {
		for _, r := range beaconBatch(i, 10) {
			want[r.Topic] = append(want[r.Topic], tag(r))
		}
	}
	for _, topic := range topics {
		var tags []string
		for _, r := range got[topic] {
			tags = append(tags, tag(r))
		}
		equal(t, topic, tags, want[topic])
	}
}
