package enricher_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/footfall/footfall/internal/server"
)

// An event delivered twice counts once, whether the copies arrive in one
// batch (the collector retried a produce) or far apart (the client resent).
func TestEnricherCountsEachEventOnce(t *testing.T) {
	r := newRig(t)
	cfg := config(r.group())
	w := searchWeight
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
	w := searchWeight
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
	r.forgetKafkaOffsets(cfg.Group)
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

// An enricher whose group lost its Kafka offsets (deleted, expired after
// the group sat empty past offsets.retention) starts each partition at the
// offset stored in PostgreSQL with the scores: it reads only what came
// after, instead of re-reading the topics from the start and skipping what
// it had applied.
func TestEnricherResumesFromPostgresWhenKafkaLostItsOffsets(t *testing.T) {
	r := newRig(t)
	cfg := config(r.group())
	w := searchWeight
	r.produce(search("anon-a", "humidifier"), search("anon-b", "kettle"), search("anon-b", "kettles"))
	stop := r.startEnricher(cfg)
	r.waitApplied(cfg.Group)
	stop()
	if got, want := r.scores("anon-b"), (map[string]float64{"kettle-deal": 2 * w}); !reflect.DeepEqual(got, want) {
		t.Fatalf("before the restart: anon-b has %v, want %v", got, want)
	}

	r.forgetKafkaOffsets(cfg.Group)
	// New events on every partition that holds old ones (same visitors,
	// same keys): waiting for them to apply waits past the old ones too.
	r.produce(search("anon-a", "tower fans"), search("anon-b", "wool blanket"))
	ops := server.NewOps()
	stop = r.startEnricherWith(cfg, ops)
	r.waitApplied(cfg.Group)
	stop()

	if got := counter(t, ops, "footfall_enricher_events_applied_total", nil); got != 2 {
		t.Errorf("the restarted enricher applied %v events, want the 2 new ones", got)
	}
	if got := counter(t, ops, "footfall_enricher_events_skipped_total", map[string]string{"reason": "already_applied"}); got != 0 {
		t.Errorf("the restarted enricher read %v events it had already applied, want 0: it did not start at the offsets in PostgreSQL", got)
	}
	want := map[string]map[string]float64{
		"anon-a": {"humidifier-deal": w, "humidifier-filters": w, "fan-deal": w},
		"anon-b": {"kettle-deal": 2 * w, "blanket-deal": w},
	}
	for visitor, want := range want {
		if got := r.scores(visitor); !reflect.DeepEqual(got, want) {
			t.Errorf("after a restart without Kafka offsets, %s has %v, want %v: each event once", visitor, got, want)
		}
	}
}
