package collector

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/footfall/footfall/internal/event"
)

func rejectedSeries(r event.Reason) string {
	return `footfall_collector_events_rejected_total{reason="` + string(r) + `"}`
}

// TestIntegrationRefusedBatch sends bodies the collector must refuse whole:
// a clear 4xx with its reason, a counted metric, nothing in Kafka, and the
// sender's next good batch goes through.
func TestIntegrationRefusedBatch(t *testing.T) {
	lc := newLiveCollector(t)
	pageview := func(id string) string {
		return `{"id":"` + id + `","type":"pageview","ts":1700000000000,"anonymous_id":"a"}`
	}
	many := make([]string, 21) // cfg.MaxEvents is 20
	for i := range many {
		many[i] = pageview(newID(t))
	}
	tests := []struct {
		name   string
		body   []byte
		header map[string]string
		status int
		reason event.Reason
	}{
		{name: "malformed JSON", body: []byte(`{"site":"` + liveKey + `","events":[` + pageview(newID(t))), status: 400, reason: event.ReasonMalformedJSON},
		{name: "events not a list", body: []byte(`{"site":"` + liveKey + `","events":{"0":` + pageview(newID(t)) + `}}`), status: 400, reason: event.ReasonMalformedJSON},
		{name: "site not a string", body: []byte(`{"site":42,"events":[` + pageview(newID(t)) + `]}`), status: 400, reason: event.ReasonMalformedJSON},
		{name: "oversized body", body: []byte(`{"site":"` + liveKey + `","events":[` + pageview(newID(t)) + `],"pad":"` + strings.Repeat("x", 9<<10) + `"}`), status: 413, reason: event.ReasonBodyTooLarge},
		{name: "gzip inflates past the limit", body: gzipped(t, []byte(`{"site":"`+liveKey+`","events":[`+pageview(newID(t))+`],"pad":"`+strings.Repeat("x", 80<<10)+`"}`)), header: map[string]string{"Content-Encoding": "gzip"}, status: 413, reason: event.ReasonBodyTooLarge},
		{name: "too many events", body: batchOf(liveKey, many...), status: 413, reason: event.ReasonTooManyEvents},
		{name: "wrong write key", body: batchOf("wk_wrong", pageview(newID(t))), status: 401, reason: event.ReasonUnknownSite},
		{name: "no write key", body: []byte(`{"events":[` + pageview(newID(t)) + `]}`), status: 401, reason: event.ReasonUnknownSite},
		{name: "empty batch", body: batchOf(liveKey), status: 400, reason: event.ReasonEmptyBatch},
		{name: "events missing", body: []byte(`{"site":"` + liveKey + `"}`), status: 400, reason: event.ReasonEmptyBatch},
		{name: "form-encoded, as curl -d sends", body: batchOf(liveKey, pageview(newID(t))), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 415, reason: event.ReasonBadEncoding},
		{name: "claims gzip but is not", body: batchOf(liveKey, pageview(newID(t))), header: map[string]string{"Content-Encoding": "gzip"}, status: 400, reason: event.ReasonBadEncoding},
		{name: "unsupported encoding", body: batchOf(liveKey, pageview(newID(t))), header: map[string]string{"Content-Encoding": "br"}, status: 415, reason: event.ReasonBadEncoding},
		{name: "events twice", body: []byte(`{"site":"` + liveKey + `","events":[` + pageview(newID(t)) + `],"events":[` + pageview(newID(t)) + `]}`), status: 400, reason: event.ReasonDuplicateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			metric := lc.metric(rejectedSeries(tt.reason))
			before := lc.probe.total()
			r := lc.post(tt.body, tt.header)
			if r.status != tt.status || r.body.Error != tt.reason || r.body.Detail == "" {
				t.Fatalf("answer %d %s, want %d with error %q and a detail", r.status, r.raw, tt.status, tt.reason)
			}
			if r.body.Accepted != 0 || len(r.body.Rejected) != 0 {
				t.Errorf("a refused batch reports events: %s", r.raw)
			}
			if got := lc.probe.total() - before; got != 0 {
				t.Errorf("a refused batch put %d messages in Kafka", got)
			}
			if got := lc.metric(rejectedSeries(tt.reason)) - metric; got != 1 {
				t.Errorf("%s counted %v times, want 1", rejectedSeries(tt.reason), got)
			}

			id := newID(t)
			if r := lc.post(batchOf(liveKey, pageview(id)), nil); r.status != http.StatusOK || r.body.Accepted != 1 {
				t.Fatalf("the good batch after it: %d %s", r.status, r.raw)
			}
			if _, ok := lc.probe.snapshot().byID(event.Topic(lc.kc.TopicPrefix, event.Pageview), id); !ok {
				t.Errorf("the good batch after a refused one is not in Kafka")
			}
		})
	}
}

// TestIntegrationRejectedEvents puts one bad event between two good ones:
// the answer names the bad one by index and reason, the metric counts it,
// it is kept on the invalid topic, and both good events are in Kafka.
func TestIntegrationRejectedEvents(t *testing.T) {
	lc := newLiveCollector(t)
	tests := []struct {
		name    string
		bad     func(id, marker string) string
		reason  event.Reason
		namesID bool // the answer can name the bad event's id
	}{
		{"ts is a string", func(id, m string) string {
			return `{"id":"` + id + `","type":"click","ts":"now","anonymous_id":"` + m + `"}`
		}, event.ReasonInvalidField, true},
		{"page is a number", func(id, m string) string {
			return `{"id":"` + id + `","type":"pageview","ts":1,"anonymous_id":"` + m + `","page":7}`
		}, event.ReasonInvalidField, true},
		{"event is not an object", func(_, m string) string { return `"` + m + `"` }, event.ReasonInvalidField, false},
		{"oversized event", func(id, m string) string {
			return `{"id":"` + id + `","type":"custom","name":"x","ts":1,"anonymous_id":"` + m + `","props":{"p":"` + strings.Repeat("y", 2<<10) + `"}}`
		}, event.ReasonEventTooLarge, false},
		{"unknown type", func(id, m string) string {
			return `{"id":"` + id + `","type":"hover","ts":1,"anonymous_id":"` + m + `"}`
		}, event.ReasonUnknownType, true},
		{"missing id", func(_, m string) string {
			return `{"type":"click","ts":1,"anonymous_id":"` + m + `"}`
		}, event.ReasonMissingID, false},
		{"id not a UUID", func(_, m string) string {
			return `{"id":"42","type":"click","ts":1,"anonymous_id":"` + m + `"}`
		}, event.ReasonInvalidID, false},
		{"missing ts", func(id, m string) string {
			return `{"id":"` + id + `","type":"click","anonymous_id":"` + m + `"}`
		}, event.ReasonMissingTS, true},
		{"search without keyword", func(id, m string) string {
			return `{"id":"` + id + `","type":"search","ts":1,"anonymous_id":"` + m + `","search":{"keyword":""}}`
		}, event.ReasonMissingKeyword, true},
		{"identify with another user's hash", func(id, m string) string {
			return `{"id":"` + id + `","type":"identify","ts":1,"anonymous_id":"` + m + `","user_id":"victim",` +
				`"props":{"user_hash":"` + event.UserHash(liveIdentitySecret, "attacker") + `"}}`
		}, event.ReasonBadUserHash, true},
		{"identify without a hash", func(id, m string) string {
			return `{"id":"` + id + `","type":"identify","ts":1,"anonymous_id":"` + m + `","user_id":"victim"}`
		}, event.ReasonBadUserHash, true},
		{"not UTF-8", func(id, m string) string {
			return `{"id":"` + id + `","type":"custom","name":"x","ts":1,"anonymous_id":"` + m + `","props":{"city":"M` + "\xfc" + `nchen"}}`
		}, event.ReasonInvalidUTF8, true},
		{"type twice", func(id, m string) string {
			return `{"id":"` + id + `","type":"pageview","ts":1,"anonymous_id":"` + m + `","type":"identify","user_id":"victim"}`
		}, event.ReasonDuplicateKey, true},
		{"a prop twice", func(id, m string) string {
			return `{"id":"` + id + `","type":"custom","name":"x","ts":1,"anonymous_id":"` + m + `","props":{"plan":"free","plan":"gold"}}`
		}, event.ReasonDuplicateKey, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good1, good2, badID, marker := newID(t), newID(t), newID(t), "marker-"+newID(t)
			body := batchOf(liveKey,
				`{"id":"`+good1+`","type":"pageview","ts":1700000000000,"anonymous_id":"a"}`,
				tt.bad(badID, marker),
				`{"id":"`+good2+`","type":"search","ts":1700000000000,"anonymous_id":"a","search":{"keyword":"kettle"}}`)
			metric := lc.metric(rejectedSeries(tt.reason))
			before := lc.probe.total()

			r := lc.post(body, nil)
			if r.status != http.StatusBadRequest || r.body.Accepted != 2 || len(r.body.Rejected) != 1 {
				t.Fatalf("answer %d %s, want 400 with 2 accepted and 1 rejected", r.status, r.raw)
			}
			rej := r.body.Rejected[0]
			if rej.Index != 1 || rej.Reason != tt.reason {
				t.Errorf("rejected %+v, want index 1 for %s", rej, tt.reason)
			}
			if tt.namesID && rej.ID != badID {
				t.Errorf("rejection names id %q, want %q", rej.ID, badID)
			}
			if got := lc.metric(rejectedSeries(tt.reason)) - metric; got != 1 {
				t.Errorf("%s counted %v times, want 1", rejectedSeries(tt.reason), got)
			}
			if got := lc.probe.total() - before; got != 3 {
				t.Errorf("Kafka gained %d messages, want 2 events and 1 invalid record", got)
			}
			snap := lc.probe.snapshot()
			if _, ok := snap.byID(event.Topic(lc.kc.TopicPrefix, event.Pageview), good1); !ok {
				t.Error("the good event before the bad one is not in Kafka")
			}
			if _, ok := snap.byID(event.Topic(lc.kc.TopicPrefix, event.Search), good2); !ok {
				t.Error("the good event after the bad one is not in Kafka")
			}
			var kept []record
			for _, rec := range snap[event.InvalidTopic(lc.kc.TopicPrefix)] {
				if bytes.Contains(rec.Value, []byte(marker)) {
					kept = append(kept, rec)
				}
			}
			if len(kept) != 1 {
				t.Fatalf("%s holds %d records of the bad event, want 1", event.InvalidTopic(lc.kc.TopicPrefix), len(kept))
			}
			if v := kept[0].value; v["reason"] != string(tt.reason) || v["site_id"] != liveSite || v["received_at"] == nil {
				t.Errorf("invalid record %s lacks its reason, site or time", kept[0].Value)
			}
		})
	}

	t.Run("every event bad", func(t *testing.T) {
		before := lc.probe.total()
		r := lc.post(batchOf(liveKey,
			`{"type":"click","ts":1,"anonymous_id":"a"}`,
			`{"id":"`+newID(t)+`","type":"hover","ts":1,"anonymous_id":"a"}`), nil)
		if r.status != http.StatusBadRequest || r.body.Accepted != 0 || len(r.body.Rejected) != 2 ||
			r.body.Rejected[0].Reason != event.ReasonMissingID || r.body.Rejected[1].Reason != event.ReasonUnknownType {
			t.Fatalf("answer %d %s, want 400 with both events rejected", r.status, r.raw)
		}
		if got := lc.probe.total() - before; got != 2 {
			t.Errorf("Kafka gained %d messages, want the 2 invalid records", got)
		}
	})
}

// TestIntegrationExactNumbers: a number in props reaches Kafka as the text
// the client sent, however large, small or negatively zero.
func TestIntegrationExactNumbers(t *testing.T) {
	lc := newLiveCollector(t)
	id := newID(t)
	props := `{"order":9223372036854775807,"huge":1e308,"neg0":-0,"price":19.99}`
	body := batchOf(liveKey, `{"id":"`+id+`","type":"custom","name":"order","ts":1700000000000,"anonymous_id":"a","props":`+props+`}`)
	if r := lc.post(body, nil); r.status != http.StatusOK || r.body.Accepted != 1 {
		t.Fatalf("answer %d %s", r.status, r.raw)
	}
	rec, ok := lc.probe.snapshot().byID(event.Topic(lc.kc.TopicPrefix, event.Custom), id)
	if !ok {
		t.Fatal("the event is not in Kafka")
	}
	for _, want := range []string{`"order":9223372036854775807`, `"huge":1e308`, `"neg0":-0`, `"price":19.99`} {
		if !bytes.Contains(rec.Value, []byte(want)) {
			t.Errorf("Kafka holds %s, want %s in it", rec.Value, want)
		}
	}
}

// TestIntegrationGzipAllowance sends a gzip body larger than max-body-bytes
// once inflated but within maxInflation of it: the limit is on what is sent,
// so a server-side sender can fit a bigger batch by compressing it.
func TestIntegrationGzipAllowance(t *testing.T) {
	lc := newLiveCollector(t)
	id := newID(t)
	body := `{"site":"` + liveKey + `","events":[{"id":"` + id + `","type":"pageview","ts":1700000000000,"anonymous_id":"a"}],"pad":"` + strings.Repeat("x", 3*(8<<10)) + `"}`
	r := lc.post(gzipped(t, []byte(body)), map[string]string{"Content-Encoding": "gzip"})
	if r.status != http.StatusOK || r.body.Accepted != 1 {
		t.Fatalf("answer %d %s, want 200 with the event accepted", r.status, r.raw)
	}
	if _, ok := lc.probe.snapshot().byID(event.Topic(lc.kc.TopicPrefix, event.Pageview), id); !ok {
		t.Error("the event of a gzip batch over max-body-bytes inflated is not in Kafka")
	}
}

// TestIntegrationVerifiedIdentify sends an identify signed as a shop's
// server signs it: it is accepted and reaches Kafka with its user id, the
// spent hash dropped.
func TestIntegrationVerifiedIdentify(t *testing.T) {
	lc := newLiveCollector(t)
	id := newID(t)
	body := batchOf(liveKey, `{"id":"`+id+`","type":"identify","ts":1700000000000,"anonymous_id":"a","user_id":"user-42",`+
		`"props":{"user_hash":"`+event.UserHash(liveIdentitySecret, "user-42")+`"}}`)
	if r := lc.post(body, nil); r.status != http.StatusOK || r.body.Accepted != 1 {
		t.Fatalf("answer %d %s, want the signed identify accepted", r.status, r.raw)
	}
	rec, ok := lc.probe.snapshot().byID(event.Topic(lc.kc.TopicPrefix, event.Identify), id)
	if !ok {
		t.Fatal("the signed identify is not in Kafka")
	}
	if rec.value["user_id"] != "user-42" || rec.value["props"] != nil {
		t.Errorf("identify in Kafka = %s, want user-42 without props.user_hash", rec.Value)
	}
}
