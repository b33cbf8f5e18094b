package enricher_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/testenv"
)

// TestEnricherPublishesUpdates: each committed batch puts one record per
// changed visitor on promotion_updates, keyed by site and visitor, with
// the rows' absolute values as PostgreSQL holds them, and a resend (a
// duplicate event) publishes nothing.
func TestEnricherPublishesUpdates(t *testing.T) {
	r := newRig(t)
	tail, err := kafka.NewTail(r.kc, "enricher-test", testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	topic := event.PromotionUpdatesTopic(r.kc.TopicPrefix)
	from, err := tail.Newest(topic)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []kafka.Record
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- tail.Run(ctx, topic, from, func(rec kafka.Record) { mu.Lock(); got = append(got, rec); mu.Unlock() })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := tail.Close(); err != nil {
			t.Error(err)
		}
	})
	r.startEnricher(config(r.group()))

	now := time.Now()
	first := searchAt("anon-upd", "humidifier", now)
	r.produce(first, searchAt("anon-upd", "humidifier", now.Add(time.Second)))
	records := func() []kafka.Record { mu.Lock(); defer mu.Unlock(); return append([]kafka.Record(nil), got...) }
	var last enricher.Update
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		for _, rec := range records() {
			if string(rec.Key) != enricher.UpdateKey("demo", "anon-upd") {
				t.Fatalf("record keyed %q", rec.Key)
			}
			if err := json.Unmarshal(rec.Value, &last); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range last.Scores {
			if s.Promotion == "humidifier-deal" && s.Score == 20 {
				return true, ""
			}
		}
		return false, string(must(json.Marshal(last)))
	})
	for _, s := range last.Scores {
		if want := scoreOf(t, r, "anon-upd", s.Promotion); s.Score != want || s.Reason != "search:humidifier" || !s.ExpiresAt.After(now) || s.UpdatedAt.IsZero() {
			t.Errorf("update %+v: want the row as stored, score %v", s, want)
		}
	}

	n := len(records())
	r.produce(first)                                                  // a resend: applied once already
	r.produce(searchAt("anon-upd", "kettle", now.Add(2*time.Second))) // behind it on the visitor's partition
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		return len(records()) > n, "no update after the resend"
	})
	for _, rec := range records()[n:] {
		var u enricher.Update
		if err := json.Unmarshal(rec.Value, &u); err != nil {
			t.Fatal(err)
		}
		for _, s := range u.Scores {
			if s.Promotion == "humidifier-deal" {
				t.Errorf("a resend published %s", rec.Value)
			}
		}
	}
}

func searchAt(visitor, keyword string, at time.Time) *event.Event {
	return &event.Event{
		ID: testenv.UUID(), Type: event.Search, TS: at.UnixMilli(), AnonymousID: visitor,
		Search: &event.SearchDetail{Keyword: keyword}, SiteID: "demo", ReceivedAt: at.UnixMilli(),
	}
}

func scoreOf(t *testing.T, r *rig, visitor, promotion string) float64 {
	t.Helper()
	var s float64
	err := r.pool.QueryRow(context.Background(), `
		SELECT coalesce(sum(score), 0) FROM user_promotions
		WHERE site_id = 'demo' AND user_key = $1 AND promotion_id = $2`, visitor, promotion).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
