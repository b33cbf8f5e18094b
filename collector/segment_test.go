package collector

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/footfall/footfall/internal/event"
)

// postSegment sends body to path as Segment's libraries do.
func postSegment(t *testing.T, c *Collector, path, body string, header map[string]string) (*http.Response, segmentResponse) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "analytics-node-next/latest")
	req.RemoteAddr = "203.0.113.77:5555"
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := serve(c, req)
	var sr segmentResponse
	if err := json.Unmarshal(w.Body.Bytes(), &sr); err != nil {
		t.Fatalf("answer is not JSON: %q", w.Body.String())
	}
	return w.Result(), sr
}

// TestSegmentCalls: Segment's calls, single or batched, with a server key
// as the Basic user: 200 {"success": true}, each message on its type's
// topic, stamped and trusted as a server key's events are.
func TestSegmentCalls(t *testing.T) {
	p := &recordingPublisher{}
	c := newTrustCollector(t, p)
	auth := map[string]string{"Authorization": basic(serverKey, "")}
	const ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"

	res, sr := postSegment(t, c, "/v1/track", `{"userId":"u1","event":"Order Completed","messageId":"m1","properties":{"total":27.5},"context":{"ip":"198.51.100.23","userAgent":"`+ua+`"}}`, auth)
	if res.StatusCode != 200 || !sr.Success {
		t.Fatalf("track: %d %+v", res.StatusCode, sr)
	}
	res, sr = postSegment(t, c, "/v1/batch", `{"sentAt":"2026-12-02T10:00:00Z","batch":[
		{"type":"page","anonymousId":"a1","properties":{"url":"https://shop.example/p/1","path":"/p/1"},"timestamp":"2026-12-02T09:59:59Z","messageId":"m2"},
		{"type":"track","anonymousId":"a1","userId":"u1","event":"Products Searched","properties":{"query":"fan"},"messageId":"m3"},
		{"type":"identify","anonymousId":"a1","userId":"u1","traits":{"plan":"pro"},"messageId":"m4"}]}`, auth)
	if res.StatusCode != 200 || !sr.Success {
		t.Fatalf("batch: %d %+v", res.StatusCode, sr)
	}

	custom := p.byTopic("footfall.custom")
	if len(custom) != 1 || custom[0]["name"] != "Order Completed" || custom[0]["user_verified"] != true ||
		custom[0]["ip"] != "198.51.100.0" || custom[0]["os"] != "iOS" || custom[0]["bot"] != nil {
		t.Errorf("track: %v", custom)
	}
	page := p.byTopic("footfall.pageview")
	if len(page) != 1 || page[0]["page"].(map[string]any)["path"] != "/p/1" || page[0]["ip"] != "203.0.113.0" {
		t.Errorf("page: %v", page)
	}
	// No user agent in the message: a person of unknown browser, not a
	// bot for the library's own header.
	if page[0]["bot"] != nil || page[0]["browser"] != "other" {
		t.Errorf("page without context.userAgent stamped as %v / %v", page[0]["bot"], page[0]["browser"])
	}
	search := p.byTopic("footfall.search")
	if len(search) != 1 || search[0]["search_keyword"] != "fan" || search[0]["user_verified"] != true {
		t.Errorf("search: %v", search)
	}
	if id := p.byTopic("footfall.identify"); len(id) != 1 || id[0]["user_id"] != "u1" || id[0]["user_verified"] != true {
		t.Errorf("identify: %v", id)
	}
}

// TestSegmentWithAWriteKey: Segment's browser library puts the write key
// in the body; its user ids are then claims, its context.ip is ignored,
// and its origin must be allowed.
func TestSegmentWithAWriteKey(t *testing.T) {
	p := &recordingPublisher{}
	c := newTrustCollector(t, p)
	body := `{"writeKey":"` + writeKey + `","batch":[{"type":"track","anonymousId":"a1","userId":"victim","event":"Products Searched","properties":{"query":"fan"},"context":{"ip":"198.51.100.23"}}]}`
	res, sr := postSegment(t, c, "/v1/batch", body, map[string]string{"Origin": "https://shop.example", "User-Agent": linuxChrome})
	if res.StatusCode != 200 || !sr.Success {
		t.Fatalf("answer %d %+v", res.StatusCode, sr)
	}
	s := p.byTopic("footfall.search")
	if len(s) != 1 || s[0]["user_verified"] != nil || s[0]["ip"] != "203.0.113.0" || s[0]["browser"] != "Chrome" {
		t.Errorf("a browser's Segment search: %v", s)
	}
	res, sr = postSegment(t, c, "/v1/batch", body, map[string]string{"Origin": "https://evil.example"})
	if res.StatusCode != 403 || sr.Error != event.ReasonOriginNotAllowed {
		t.Errorf("another origin: %d %+v", res.StatusCode, sr)
	}
}

// TestSegmentRejections: a bad message costs itself only, answered 400
// with its index and reason; a bad request is refused whole.
func TestSegmentRejections(t *testing.T) {
	p := &recordingPublisher{}
	c := newTrustCollector(t, p)
	auth := map[string]string{"Authorization": basic(serverKey, "")}
	res, sr := postSegment(t, c, "/v1/batch", `{"batch":[{"type":"track","userId":"u","event":"Fine"},{"type":"track","event":"Nobody"},{"type":"boom","userId":"u"}]}`, auth)
	if res.StatusCode != 400 || sr.Success || sr.Accepted != 1 || len(sr.Rejected) != 2 ||
		sr.Rejected[0].Index != 1 || sr.Rejected[0].Reason != event.ReasonMissingUser ||
		sr.Rejected[1].Index != 2 || sr.Rejected[1].Reason != event.ReasonUnknownType {
		t.Fatalf("answer %d %+v", res.StatusCode, sr)
	}
	if n := len(p.byTopic("footfall.custom")); n != 1 {
		t.Errorf("%d custom events stored, want the good one", n)
	}
	if n := len(p.byTopic("footfall.invalid")); n != 2 {
		t.Errorf("%d invalid records, want 2", n)
	}
	for _, tt := range []struct {
		path, body string
		header     map[string]string
		status     int
		reason     event.Reason
	}{
		{"/v1/track", `{"userId":"u","event":"x"}`, nil, 401, event.ReasonUnknownSite},
		{"/v1/track", `{"userId":"u","event":"x"}`, map[string]string{"Authorization": basic("sk_guess", "")}, 401, event.ReasonBadCredentials},
		{"/v1/track", `{"userId":"u",`, auth, 400, event.ReasonMalformedJSON},
		{"/v1/batch", `{"batch":[]}`, auth, 400, event.ReasonEmptyBatch},
	} {
		res, sr := postSegment(t, c, tt.path, tt.body, tt.header)
		if res.StatusCode != tt.status || sr.Error != tt.reason || sr.Success {
			t.Errorf("%s %s: %d %+v, want %d %s", tt.path, tt.body, res.StatusCode, sr, tt.status, tt.reason)
		}
	}
}
