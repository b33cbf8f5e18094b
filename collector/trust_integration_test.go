package collector

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
)

// TestIntegrationWhatTheCollectorBelieves sends one batch as a browser and
// one as the shop's server, and reads from the broker what each event's
// time, client IP and user id became; then a page on another origin and a
// wrong server key, which store nothing.
func TestIntegrationWhatTheCollectorBelieves(t *testing.T) {
	lc := newLiveCollector(t)
	prefix := lc.kc.TopicPrefix
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

	// A browser whose clock is an hour fast, an event 3 s before sending,
	// claiming a user id, a vouched-for flag and an address.
	fast := time.Now().Add(time.Hour)
	browserID := newID(t)
	browser := []byte(`{"site":"` + liveKey + `","sent_at":` + ms(fast) + `,"events":[{"id":"` + browserID +
		`","type":"pageview","ts":` + ms(fast.Add(-3*time.Second)) + `,"anonymous_id":"a","user_id":"someone","user_verified":true,"ip":"198.51.100.9"}]}`)
	sent := time.Now()
	if r := lc.post(browser, map[string]string{"Origin": liveOrigin}); r.status != http.StatusOK {
		t.Fatalf("browser batch: %d %s", r.status, r.raw)
	}
	// The shop's server, loading an event of two days ago for a user it
	// knows, from the visitor's address.
	old := time.Now().Add(-48 * time.Hour).Truncate(time.Millisecond)
	serverID := newID(t)
	server := []byte(`{"events":[{"id":"` + serverID + `","type":"pageview","ts":` + ms(old) +
		`,"user_id":"user-42","ip":"198.51.100.23"}]}`)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(liveServerKey+":"))
	if r := lc.post(server, map[string]string{"Authorization": basic, "Origin": "https://anywhere.example"}); r.status != http.StatusOK {
		t.Fatalf("server batch: %d %s", r.status, r.raw)
	}

	snap := lc.probe.snapshot()
	b, ok := snap.byID(event.Topic(prefix, event.Pageview), browserID)
	if !ok {
		t.Fatal("the browser's event is not in Kafka")
	}
	ts, orig := int64(b.value["ts"].(float64)), int64(b.value["original_ts"].(float64))
	if want := sent.Add(-3 * time.Second).UnixMilli(); ts < want-2000 || ts > want+2000 {
		t.Errorf("browser ts %s, want about 3 s before it was sent (%s): the clock's hour corrected",
			time.UnixMilli(ts).Format(time.RFC3339Nano), time.UnixMilli(want).Format(time.RFC3339Nano))
	}
	if orig != fast.Add(-3*time.Second).UnixMilli() {
		t.Errorf("browser original_ts %d, want the client's ts", orig)
	}
	if b.value["user_id"] != "someone" || b.value["user_verified"] != nil || b.value["ip"] != "203.0.113.0" {
		t.Errorf("browser event %s: want its user id kept unvouched and the request's address", b.Value)
	}

	s, ok := snap.byID(event.Topic(prefix, event.Pageview), serverID)
	if !ok {
		t.Fatal("the server's event is not in Kafka")
	}
	if s.value["ts"] != float64(old.UnixMilli()) || s.value["user_verified"] != true || s.value["ip"] != "198.51.100.0" || s.value["site_id"] != liveSite {
		t.Errorf("server event %s: want its time as given, its user id vouched for, its address truncated", s.Value)
	}
	if string(s.Key) != liveSite+":user-42" {
		t.Errorf("server event key %q, want site:user_id when there is no anonymous id", s.Key)
	}

	before := lc.probe.total()
	refused := lc.metric(`footfall_collector_events_rejected_total{reason="origin_not_allowed"}`)
	good := `{"id":"` + newID(t) + `","type":"pageview","ts":1700000000000,"anonymous_id":"a"}`
	if r := lc.post(batchOf(liveKey, good), map[string]string{"Origin": "https://elsewhere.example"}); r.status != http.StatusForbidden || r.body.Error != event.ReasonOriginNotAllowed {
		t.Errorf("another origin: %d %s, want 403 %s", r.status, r.raw, event.ReasonOriginNotAllowed)
	}
	if got := lc.metric(`footfall_collector_events_rejected_total{reason="origin_not_allowed"}`) - refused; got != 1 {
		t.Errorf("origin_not_allowed counted %v times, want 1", got)
	}
	bad := "Basic " + base64.StdEncoding.EncodeToString([]byte("sk_guess:"))
	if r := lc.post(batchOf("", good), map[string]string{"Authorization": bad}); r.status != http.StatusUnauthorized || r.body.Error != event.ReasonBadCredentials || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("a wrong server key: %d %s, want 401 %s with WWW-Authenticate", r.status, r.raw, event.ReasonBadCredentials)
	}
	if got := lc.probe.total() - before; got != 0 {
		t.Errorf("refused batches produced %d messages", got)
	}
}
