package enricher_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/footfall/footfall/internal/event"
)

// An event delivered twice counts once, whether the copies arrive in one
// batch (the collector retried a produce) or far apart (the client resent).
func TestEnricherCountsEachEventOnce(t *testing.T) {
	r := newRig(t)
	cfg := config(r.group())
	w := cfg.SearchWeight
	first := search("anon-a", "humidifier")
	r.produce(first, first) // before the enricher starts: one batch
	r.startEnricher(cfg)
	r.waitApplied(cfg.Group)
	if got, want := r.scores("anon-a"), (map[string]float64{"humidifier-deal": w, "humidifier-filters": w}); !reflect.DeepEqual(got, want) {
		t.Fatalf("one search sent twice in a batch gave %v, want %v", got, want)
	}

	r.produce(first, search("anon-a", "humidifiers")) // a resend and a new search
	r.waitApplied(cfg.Group)
	if got, want := r.scores("anon-a"), (map[string]float64{"humidifier-deal": 2 * w, "humidifier-filters": 2 * w}); !reflect.DeepEqual(got, want) {
		t.Errorf("after a resend and a second search: %v, want %v", got, want)
	}
}

// An enricher restarted in the same group resumes from the offsets stored
// with the scores: old events are not counted again, new ones are. That
// holds even when Kafka's committed offsets were lost (a crash between the
// PostgreSQL commit and Kafka's) and the remembered event ids have been
// pruned.
func TestEnricherResumesFromOffsetsInPostgres(t *testing.T) {
	r := newRig(t)
	cfg := config(r.group())
	w := cfg.SearchWeight
	first := search("anon-a", "humidifier")
	r.produce(first, search("anon-b", "kettle"))
	stop := r.startEnricher(cfg)
	r.waitApplied(cfg.Group)
	stop()
	if got, want := r.scores("anon-a"), (map[string]float64{"humidifier-deal": w, "humidifier-filters": w}); !reflect.DeepEqual(got, want) {
		t.Fatalf("before the restart: %v, want %v", got, want)
	}

	// While it is down: a resend of an applied event and new searches.
	r.produce(first, search("anon-a", "Humidifier"), search("anon-a", "tower fans"))
	stop = r.startEnricher(cfg)
	r.waitApplied(cfg.Group)
	stop()
	if got, want := r.scores("anon-a"), (map[string]float64{"humidifier-deal": 2 * w, "humidifier-filters": 2 * w, "fan-deal": w}); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the restart: %v, want %v", got, want)
	}

	// Now only the offsets in PostgreSQL know what was applied.
	if err := r.admin.DeleteConsumerGroup(cfg.Group); err != nil {
		t.Fatalf("forget the group's Kafka offsets: %v", err)
	}
	topic := event.Topic(r.kc.TopicPrefix, event.Search)
	kafkaOffsets, err := r.admin.ListConsumerGroupOffsets(cfg.Group, map[string][]int32{topic: {0, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 3; p++ {
		if b := kafkaOffsets.GetBlock(topic, p); b != nil && b.Offset >= 0 {
			t.Fatalf("Kafka still has offset %d of %s/%d for the group", b.Offset, topic, p)
		}
	}
	if _, err := r.pool.Exec(context.Background(), `DELETE FROM processed_events`); err != nil {
		t.Fatal(err)
	}
	last := search("anon-a", "wool blanket")
	r.produce(last)
	r.startEnricher(cfg)
	r.waitApplied(cfg.Group)
	if got, want := r.scores("anon-a"), (map[string]float64{"humidifier-deal": 2 * w, "humidifier-filters": 2 * w, "fan-deal": w, "blanket-deal": w}); !reflect.DeepEqual(got, want) {
		t.Errorf("after a restart without Kafka offsets: %v, want %v", got, want)
	}
	if got, want := r.scores("anon-b"), (map[string]float64{"kettle-deal": w}); !reflect.DeepEqual(got, want) {
		t.Errorf("anon-b after the restarts: %v, want %v", got, want)
	}
	var n int
	if err := r.pool.QueryRow(context.Background(), `SELECT count(*) FROM processed_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d events applied by the last enricher, want only the new one", n)
	}
}
