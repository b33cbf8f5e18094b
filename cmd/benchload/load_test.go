package main

import (
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
)

// TestTrafficBodiesAreBatchesTheCollectorTakes: every body the load
// generator sends is a batch of the run's key whose events all pass the
// collector's decoding and validation, with ids never sent before and
// times of now, so that no stage measures rejections or dedup.
func TestTrafficBodiesAreBatchesTheCollectorTakes(t *testing.T) {
	tr, err := newTraffic("key-1", 50, 2_000, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.tmpl) < 10 {
		t.Fatalf("%d templates from 2,000 events of 50 a batch", len(tr.tmpl))
	}
	seen := map[string]bool{}
	types := map[event.Type]int{}
	var buf []byte
	for range 3 * len(tr.tmpl) { // every template, reused
		before := time.Now().UnixMilli()
		buf = tr.body(buf)
		b, err := event.DecodeBatch(buf)
		if err != nil {
			t.Fatalf("body %s: %v", buf, err)
		}
		if b.Site != "key-1" || b.SentAt < before || b.SentAt > time.Now().UnixMilli() {
			t.Fatalf("site %q sent_at %d, want key-1 and now", b.Site, b.SentAt)
		}
		if len(b.Events) != 50 {
			t.Fatalf("%d events, want 50", len(b.Events))
		}
		for i := range b.Events {
			e, rej := b.Event(i, event.DefaultLimits)
			if rej != nil {
				t.Fatalf("event %s refused: %s %s", b.Events[i], rej.Reason, rej.Detail)
			}
			if seen[e.ID] {
				t.Fatalf("id %s sent twice", e.ID)
			}
			seen[e.ID] = true
			types[e.Type]++
			if age := b.SentAt - e.TS; age < 0 || age > time.Hour.Milliseconds() {
				t.Fatalf("event %s is %d ms older than sent_at", e.ID, age)
			}
			if e.SiteID != "" || e.IP != "" || e.UserAgent != "" || e.ReceivedAt != 0 {
				t.Fatalf("event %s carries fields the collector stamps: %s", e.ID, b.Events[i])
			}
		}
	}
	for _, ty := range []event.Type{event.Pageview, event.Click, event.Search} {
		if types[ty] == 0 {
			t.Errorf("no %s among %v", ty, types)
		}
	}
}
