package collector

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
)

// TestIntegrationBatchReachesKafka sends one batch of every event type, in
// each way a sender may encode it, and checks each event is on its type's
// topic, keyed by visitor and stamped by the collector, by the time the
// collector answers.
func TestIntegrationBatchReachesKafka(t *testing.T) {
	lc := newLiveCollector(t)
	for _, enc := range []struct {
		name   string
		header map[string]string
		gzip   bool
	}{
		{name: "sendBeacon text/plain"},
		{name: "application/json", header: map[string]string{"Content-Type": "application/json"}},
		{name: "gzip", header: map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, gzip: true},
		{name: "gzip text/plain", header: map[string]string{"Content-Encoding": "gzip"}, gzip: true},
	} {
		t.Run(enc.name, func(t *testing.T) {
			anon, user := "anon-"+newID(t)[:8], "user-"+newID(t)[:8]
			type sent struct {
				typ     event.Type
				id, key string
				json    string
			}
			evs := []sent{
				{typ: event.Pageview, json: `"page":{"url":"https://shop.example/","path":"/","title":"Home"}`},
				{typ: event.Search, json: `"user_id":"` + user + `","page":{"url":"https://shop.example/search?q=humidifier"},"search":{"keyword":"humidifier","results":3}`},
				{typ: event.Click, json: `"click":{"selector":"a.deal","text":"30% off","href":"/deal","tag":"a"}`},
				{typ: event.Scroll, json: `"scroll":{"depth_pct":75}`},
				{typ: event.FormSubmit, json: `"form":{"form_id":"newsletter","action":"/subscribe"}`},
				{typ: event.Custom, json: `"name":"add_to_cart","props":{"sku":"H-1","qty":2,"gift":false}`},
				{typ: event.Identify, json: `"user_id":"` + user + `","props":{"user_hash":"` + event.UserHash(liveIdentitySecret, user) + `"}`},
				{typ: event.Pageview, json: `"page":{"url":"https://shop.example/deal","path":"/deal"}`},
			}
			for _, spec := range event.Specs() {
				if !slices.ContainsFunc(evs, func(e sent) bool { return e.typ == spec.Type }) {
					t.Fatalf("the batch has no %s event: add one, this test sends every type", spec.Type)
				}
			}
			parts := make([]string, 0, len(evs)+1)
			for i := range evs {
				evs[i].id, evs[i].key = newID(t), liveSite+":"+anon
				parts = append(parts, `{"id":"`+evs[i].id+`","type":"`+string(evs[i].typ)+`","ts":1700000000000,"anonymous_id":"`+anon+`",`+evs[i].json+`}`)
			}
			// A server-side event knows only the shop's user id.
			backend := sent{typ: event.Custom, id: newID(t), key: liveSite + ":" + user}
			evs = append(evs, backend)
			parts = append(parts, `{"id":"`+backend.id+`","type":"custom","name":"refund","ts":1700000000000,"user_id":"`+user+`"}`)
			body := batchOf(liveKey, parts...)
			if enc.gzip {
				body = gzipped(t, body)
			}

			before := lc.probe.total()
			start := time.Now().UnixMilli()
			r := lc.post(body, enc.header)
			end := time.Now().UnixMilli()
			if r.status != http.StatusOK || r.body.Accepted != len(evs) || len(r.body.Rejected) != 0 || r.body.Error != "" {
				t.Fatalf("answer %d %s, want 200 with %d accepted", r.status, r.raw, len(evs))
			}
			if got := lc.probe.total() - before; got != int64(len(evs)) {
				t.Errorf("Kafka gained %d messages for %d events", got, len(evs))
			}

			snap := lc.probe.snapshot()
			var views []record
			for _, e := range evs {
				rec, ok := snap.byID(event.Topic(lc.kc.TopicPrefix, e.typ), e.id)
				if !ok {
					t.Errorf("%s event %s is not on %s", e.typ, e.id, event.Topic(lc.kc.TopicPrefix, e.typ))
					continue
				}
				if string(rec.Key) != e.key {
					t.Errorf("%s key = %q, want %q", e.typ, rec.Key, e.key)
				}
				v := rec.value
				for field, want := range map[string]any{
					"type": string(e.typ), "site_id": liveSite, "original_ts": float64(1700000000000),
					"ip": "203.0.113.0", "user_agent": liveUA, "browser": "Chrome", "os": "Windows", "device": "desktop",
				} {
					if v[field] != want {
						t.Errorf("%s %s = %v, want %v", e.typ, field, v[field], want)
					}
				}
				if at, _ := v["received_at"].(float64); int64(at) < start || int64(at) > end {
					t.Errorf("%s received_at = %v, want between %d and %d", e.typ, v["received_at"], start, end)
				}
				// A browser's batch without sent_at cannot date its events.
				if v["ts"] != v["received_at"] {
					t.Errorf("%s ts = %v, want received_at %v", e.typ, v["ts"], v["received_at"])
				}
				if v["bot"] == true {
					t.Errorf("%s marked as a bot", e.typ)
				}
				if bytes.Contains(rec.Value, []byte(liveClient)) {
					t.Errorf("%s carries the raw client address: %s", e.typ, rec.Value)
				}
				if e.typ == event.Pageview {
					views = append(views, rec)
				}
			}

			s, _ := snap.byID(event.Topic(lc.kc.TopicPrefix, event.Search), evs[1].id)
			for field, want := range map[string]any{
				"user_id": user, "page_url": "https://shop.example/search?q=humidifier",
				"search_keyword": "humidifier", "date": s.value["ts"],
			} {
				if s.value[field] != want {
					t.Errorf("search %s = %v, want %v", field, s.value[field], want)
				}
			}
			if len(views) == 2 && (views[0].Partition != views[1].Partition || views[0].Offset >= views[1].Offset) {
				t.Errorf("one visitor's pageviews are out of order: %d@%d then %d@%d",
					views[0].Partition, views[0].Offset, views[1].Partition, views[1].Offset)
			}
		})
	}
}

// TestIntegrationCORS checks what a browser on a shop's origin needs: the
// preflight is answered for any origin without credentials, and every
// answer, refusals included, is readable cross-origin.
func TestIntegrationCORS(t *testing.T) {
	lc := newLiveCollector(t)
	before := lc.probe.total()

	req, err := http.NewRequest(http.MethodOptions, lc.srv.URL+"/v1/batch", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type, content-encoding")
	res, err := lc.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusNoContent {
		t.Errorf("preflight status %d, want 204", res.StatusCode)
	}
	h := res.Header
	if got := h.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("preflight Allow-Origin = %q, want *", got)
	}
	if _, ok := h["Access-Control-Allow-Credentials"]; ok {
		t.Errorf("preflight allows credentials: %q", h.Get("Access-Control-Allow-Credentials"))
	}
	if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight Allow-Methods = %q, want POST", h.Get("Access-Control-Allow-Methods"))
	}
	allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
	for _, want := range []string{"content-type", "content-encoding"} {
		if !strings.Contains(allowed, want) {
			t.Errorf("preflight Allow-Headers = %q, want %s", allowed, want)
		}
	}
	if got := lc.probe.total() - before; got != 0 {
		t.Errorf("a preflight produced %d messages", got)
	}

	origin := map[string]string{"Origin": "https://shop.example"}
	good := `{"id":"` + newID(t) + `","type":"pageview","ts":1700000000000,"anonymous_id":"a"}`
	for _, tt := range []struct {
		name   string
		body   []byte
		status int
	}{
		{"accepted", batchOf(liveKey, good), http.StatusOK},
		{"refused", batchOf("wk_nope", good), http.StatusUnauthorized},
	} {
		r := lc.post(tt.body, origin)
		if r.status != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, r.status, tt.status, r.raw)
		}
		if got := r.header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("%s: Allow-Origin = %q, want *", tt.name, got)
		}
		if _, ok := r.header["Access-Control-Allow-Credentials"]; ok {
			t.Errorf("%s: answer allows credentials", tt.name)
		}
		if got := r.header.Get("Access-Control-Expose-Headers"); !strings.Contains(got, "Retry-After") {
			t.Errorf("%s: Expose-Headers = %q, want Retry-After readable by the beacon", tt.name, got)
		}
	}
}
