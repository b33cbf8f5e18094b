package privacy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/privacy"
)

// call sends one request to the forget API with key (none if "") and
// decodes the JSON answer into out.
func (r *rig) call(method, path, key, body string, out any) int {
	r.t.Helper()
	req, err := http.NewRequest(method, r.privacyURL+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			r.t.Fatalf("%s %s: %d %q: %v", method, path, res.StatusCode, b, err)
		}
	}
	return res.StatusCode
}

// TestIntegrationForgetAPI: the API refuses requests without a site's
// server key or a user id, with a reason, and counts them; it accepts a
// forget with 202, runs it in the background, reports it done with its
// counts, and lifts it.
func TestIntegrationForgetAPI(t *testing.T) {
	r := newRig(t)
	b := visitor{anon: "anon-b1", user: "user-b", session: "s-b1"}
	events := b.events(site, time.Now().Add(-time.Minute))
	r.produce(events...)
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		n := r.count("SELECT count() FROM events")
		return n == uint64(len(events)), fmt.Sprintf("%d of %d events in clickhouse", n, len(events))
	})

	type refusal struct {
		Error  string `json:"error"`
		Detail string `json:"detail"`
	}
	refusals := []struct {
		name, method, path, key, body string
		code                          int
		reason                        string
	}{
		{"no key", "POST", "/v1/forget", "", `{"user_id":"user-b"}`, http.StatusUnauthorized, "unauthorized"},
		{"another key", "POST", "/v1/forget", "sk_nope", `{"user_id":"user-b"}`, http.StatusUnauthorized, "unknown_key"},
		{"not json", "POST", "/v1/forget", serverKey, `user-b`, http.StatusBadRequest, "bad_json"},
		{"no user id", "POST", "/v1/forget", serverKey, `{}`, http.StatusBadRequest, "missing_user_id"},
		{"a long user id", "POST", "/v1/forget", serverKey, `{"user_id":"` + strings.Repeat("u", 300) + `"}`, http.StatusBadRequest, "user_id_too_long"},
		{"an unknown request", "GET", "/v1/forget/" + testenv.UUID(), serverKey, ``, http.StatusNotFound, "not_found"},
		{"a request id that is none", "GET", "/v1/forget/nope", serverKey, ``, http.StatusNotFound, "not_found"},
		{"lift without a user id", "DELETE", "/v1/forget", serverKey, ``, http.StatusBadRequest, "missing_user_id"},
	}
	for _, tc := range refusals {
		var got refusal
		if code := r.call(tc.method, tc.path, tc.key, tc.body, &got); code != tc.code || got.Error != tc.reason || got.Detail == "" {
			t.Errorf("%s: %d %+v, want %d %s with a detail", tc.name, code, got, tc.code, tc.reason)
		}
	}
	if n := metric(t, r.privacyOps.Registry(), "footfall_privacy_requests_rejected_total"); n != float64(len(refusals)) {
		t.Errorf("footfall_privacy_requests_rejected_total = %v, want %d", n, len(refusals))
	}

	var accepted map[string]string
	if code := r.call("POST", "/v1/forget", serverKey, `{"user_id":"user-b"}`, &accepted); code != http.StatusAccepted || accepted["id"] == "" {
		t.Fatalf("forget: %d %v, want 202 with an id", code, accepted)
	}
	var q privacy.Request
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		if code := r.call("GET", accepted["status_url"], serverKey, "", &q); code != http.StatusOK {
			return false, fmt.Sprint(code)
		}
		return q.Status != privacy.StatusRunning, q.Status
	})
	if q.Status != privacy.StatusDone || q.FinishedAt == nil || q.Site != site {
		t.Fatalf("request: %+v, want done", q)
	}
	deleted := map[string]int64{}
	for _, c := range q.Counts {
		if c.Unit == privacy.UnitRows {
			deleted[c.Table] = c.Rows
		}
	}
	if deleted["events"] != int64(len(events)) || deleted["identities"] != 1 {
		t.Errorf("counts %+v: want %d events, 1 identity", q.Counts, len(events))
	}
	r.noneInClickHouse([]string{"user-b", "anon-b1"})
	r.noneInPostgres([]string{"user-b", "anon-b1"}, nil)

	var lifted struct {
		Lifted int `json:"lifted"`
	}
	if code := r.call("DELETE", "/v1/forget?user_id=user-b", serverKey, "", &lifted); code != http.StatusOK || lifted.Lifted != 2 {
		t.Errorf("lift: %d %+v, want 200 and 2 ids", code, lifted)
	}
}
