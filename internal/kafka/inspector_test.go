package kafka_test

import (
	"testing"

	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/kafka/kafkatest"
)

// NewestOffsets answers what Spans answers for the newest offsets, for
// every partition, empty ones included.
func TestNewestOffsetsAgreeWithSpans(t *testing.T) {
	kc := kafkatest.Cluster(t, 3, topic)
	p := producer(t, kc)
	produce(t, p, "a", values("a", 0, 5)...)
	produce(t, p, "b", values("b", 0, 2)...)
	in, err := kafka.NewInspector(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = in.Close() }()
	spans, err := in.Spans(topic)
	if err != nil {
		t.Fatal(err)
	}
	got, err := in.NewestOffsets(topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(spans) != 3 {
		t.Fatalf("NewestOffsets %v, Spans %v: want 3 partitions each", got, spans)
	}
	var total int64
	for _, s := range spans {
		if got[s.Partition] != s.Newest {
			t.Errorf("partition %d: NewestOffsets %d, Spans %d", s.Partition, got[s.Partition], s.Newest)
		}
		total += got[s.Partition]
	}
	if total != 7 {
		t.Errorf("newest offsets %v add up to %d, want the 7 records produced", got, total)
	}
}
