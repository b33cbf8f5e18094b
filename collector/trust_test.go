package collector

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
)

const (
	serverKey      = "sk_test_server"
	otherWriteKey  = "wk_other"
	otherServerKey = "sk_other_server"
)

// newTrustCollector is the test collector with a second site, a server key
// for each site and an origin list for shop.
func newTrustCollector(t *testing.T, p *recordingPublisher) *Collector {
	t.Helper()
	c := newTestCollector(t, p)
	c.cfg.Sites = Sites{writeKey: "shop", otherWriteKey: "other"}
	c.cfg.ServerKeys = config.ServerKeys{serverKey: "shop", otherServerKey: "other"}
	c.cfg.AllowedOrigins = Origins{"shop": {"https://shop.example", "https://www.shop.example"}}
	return c
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// TestAuthentication: who may send for which site, with what trust, and
// what a sender is told when it may not.
func TestAuthentication(t *testing.T) {
	userEvent := ev(id1, "search", `,"user_id":"user-1","search":{"keyword":"fan"}`)
	tests := []struct {
		name     string
		site     string // the body's "site"
		header   map[string]string
		status   int
		reason   event.Reason
		verified bool // the event's user id is vouched for
	}{
		{name: "write key in the body", site: writeKey, status: 200},
		{name: "unknown write key", site: "wk_nope", status: 401, reason: event.ReasonUnknownSite},
		{name: "server key in the body", site: serverKey, status: 401, reason: event.ReasonUnknownSite},
		{name: "server key as Basic user", header: map[string]string{"Authorization": basic(serverKey, "")}, status: 200, verified: true},
		{name: "server key and the site's write key in the body", site: writeKey, header: map[string]string{"Authorization": basic(serverKey, "")}, status: 200, verified: true},
		{name: "server key and itself in the body", site: serverKey, header: map[string]string{"Authorization": basic(serverKey, "")}, status: 200, verified: true},
		{name: "server key and another site's write key", site: otherWriteKey, header: map[string]string{"Authorization": basic(serverKey, "")}, status: 400, reason: event.ReasonSiteMismatch},
		{name: "write key as Basic user is a browser's", header: map[string]string{"Authorization": basic(writeKey, "")}, status: 200},
		{name: "unknown Basic user", site: writeKey, header: map[string]string{"Authorization": basic("sk_guess", "")}, status: 401, reason: event.ReasonBadCredentials},
		{name: "a password", header: map[string]string{"Authorization": basic(serverKey, "x")}, status: 401, reason: event.ReasonBadCredentials},
		{name: "not Basic", site: writeKey, header: map[string]string{"Authorization": "Bearer " + serverKey}, status: 401, reason: event.ReasonBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &recordingPublisher{}
			c := newTrustCollector(t, p)
			body := `{"site":"` + tt.site + `","events":[` + userEvent + `]}`
			res, br := post(t, c, []byte(body), tt.header)
			if res.StatusCode != tt.status || br.Error != tt.reason {
				t.Fatalf("answer %d %+v, want %d %q", res.StatusCode, br, tt.status, tt.reason)
			}
			if tt.reason != "" {
				if br.Detail == "" || p.count() != 0 {
					t.Errorf("refusal without a detail (%+v) or with %d messages", br, p.count())
				}
				if got := res.Header.Get("WWW-Authenticate"); (tt.reason == event.ReasonBadCredentials) != (got != "") {
					t.Errorf("WWW-Authenticate %q on %s", got, tt.reason)
				}
				return
			}
			s := p.byTopic("footfall.search")
			if len(s) != 1 || s[0]["site_id"] != "shop" || s[0]["user_id"] != "user-1" {
				t.Fatalf("footfall.search = %v, want the event for shop with its user id", s)
			}
			if got := s[0]["user_verified"] == true; got != tt.verified {
				t.Errorf("user_verified = %v, want %v", got, tt.verified)
			}
		})
	}
}

// TestAllowedOrigins: a browser on another origin is refused and counted;
// one without an Origin, a server and a site without a list are not.
func TestAllowedOrigins(t *testing.T) {
	good := ev(id1, "pageview", "")
	tests := []struct {
		name   string
		key    string
		header map[string]string
		status int
	}{
		{"listed origin", writeKey, map[string]string{"Origin": "https://www.shop.example"}, 200},
		{"listed origin, other case", writeKey, map[string]string{"Origin": "HTTPS://Shop.Example"}, 200},
		{"another origin", writeKey, map[string]string{"Origin": "https://evil.example"}, 403},
		{"a listed host on another scheme", writeKey, map[string]string{"Origin": "http://shop.example"}, 403},
		{"an opaque origin", writeKey, map[string]string{"Origin": "null"}, 403},
		{"no Origin: not a browser", writeKey, nil, 200},
		{"a server key is exempt", "", map[string]string{"Origin": "https://evil.example", "Authorization": basic(serverKey, "")}, 200},
		{"a site without a list takes any origin", otherWriteKey, map[string]string{"Origin": "https://evil.example"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &recordingPublisher{}
			c := newTrustCollector(t, p)
			res, br := post(t, c, []byte(`{"site":"`+tt.key+`","events":[`+good+`]}`), tt.header)
			if res.StatusCode != tt.status {
				t.Fatalf("answer %d %+v, want %d", res.StatusCode, br, tt.status)
			}
			if tt.status == http.StatusForbidden {
				if br.Error != event.ReasonOriginNotAllowed || p.count() != 0 {
					t.Errorf("answer %+v with %d messages, want %s and nothing stored", br, p.count(), event.ReasonOriginNotAllowed)
				}
				if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
					t.Errorf("the refusal is not readable by the page: Allow-Origin %q", got)
				}
				if n := metricValue(t, c, `footfall_collector_events_rejected_total{reason="origin_not_allowed"}`); n != 1 {
					t.Errorf("origin_not_allowed counted %v times, want 1", n)
				}
			}
		})
	}

	// A preflight names no site: it is answered for any origin.
	c := newTrustCollector(t, &recordingPublisher{})
	req := httptest.NewRequest(http.MethodOptions, "/v1/batch", nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	if w := serve(c, req); w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d, Allow-Origin %q", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
	}
}

func metricValue(t *testing.T, c *Collector, series string) float64 {
	t.Helper()
	w := serve(c, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(w.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// TestVouch: what the collector believes of a user id and a client IP,
// by who sent them, whatever the client claims.
func TestVouch(t *testing.T) {
	const secret = "identity-secret"
	good, wrong := event.UserHash(secret, "user-42"), event.UserHash(secret, "user-43")
	tests := []struct {
		name     string
		server   bool
		secret   bool // the site has an identity secret
		event    string
		reject   event.Reason
		verified bool
		ip       string
	}{
		{name: "browser search claiming vouched", event: ev(id1, "search", `,"user_id":"user-42","user_verified":true,"search":{"keyword":"fan"}`), ip: "203.0.113.0"},
		{name: "browser search with a valid hash", secret: true, event: ev(id1, "search", `,"user_id":"user-42","search":{"keyword":"fan"},"props":{"user_hash":"`+good+`"}`), ip: "203.0.113.0"},
		{name: "browser identify, signed", secret: true, event: ev(id1, "identify", `,"user_id":"user-42","props":{"user_hash":"`+good+`"}`), verified: true, ip: "203.0.113.0"},
		{name: "browser identify, another user's hash", secret: true, event: ev(id1, "identify", `,"user_id":"user-42","props":{"user_hash":"`+wrong+`"}`), reject: event.ReasonBadUserHash},
		{name: "browser identify, no secret to check it", event: ev(id1, "identify", `,"user_id":"user-42","props":{"user_hash":"`+good+`"}`), ip: "203.0.113.0"},
		{name: "browser setting its ip", event: ev(id1, "pageview", `,"ip":"198.51.100.7"`), ip: "203.0.113.0"},
		{name: "server search", server: true, event: ev(id1, "search", `,"user_id":"user-42","search":{"keyword":"fan"}`), verified: true, ip: "203.0.113.0"},
		{name: "server identify needs no hash", server: true, secret: true, event: ev(id1, "identify", `,"user_id":"user-42"`), verified: true, ip: "203.0.113.0"},
		{name: "server event without user id", server: true, event: ev(id1, "pageview", ""), ip: "203.0.113.0"},
		{name: "server setting the visitor's ip", server: true, event: ev(id1, "pageview", `,"ip":"198.51.100.7"`), ip: "198.51.100.0"},
		{name: "server setting an IPv6", server: true, event: ev(id1, "pageview", `,"ip":"2001:db8:abcd:12::1"`), ip: "2001:db8:abcd::"},
		{name: "server setting no address", server: true, event: ev(id1, "pageview", `,"ip":"localhost"`), reject: event.ReasonInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &recordingPublisher{}
			c := newTrustCollector(t, p)
			if tt.secret {
				c.cfg.IdentitySecrets = config.Secrets{"shop": secret}
			}
			header := map[string]string{}
			if tt.server {
				header["Authorization"] = basic(serverKey, "")
			}
			res, br := post(t, c, []byte(`{"site":"`+writeKey+`","events":[`+tt.event+`]}`), header)
			if tt.reject != "" {
				if res.StatusCode != 400 || len(br.Rejected) != 1 || br.Rejected[0].Reason != tt.reject {
					t.Fatalf("answer %d %+v, want the event rejected for %s", res.StatusCode, br, tt.reject)
				}
				return
			}
			if res.StatusCode != 200 || br.Accepted != 1 {
				t.Fatalf("answer %d %+v", res.StatusCode, br)
			}
			p.mu.Lock()
			raw := string(p.sent[0].Value)
			p.mu.Unlock()
			e := p.byTopic(p.sent[0].Topic)[0]
			if got := e["user_verified"] == true; got != tt.verified {
				t.Errorf("user_verified = %v, want %v", got, tt.verified)
			}
			if e["ip"] != tt.ip {
				t.Errorf("ip = %v, want %s", e["ip"], tt.ip)
			}
			if strings.Contains(raw, "user_hash") {
				t.Errorf("the user hash reached Kafka: %s", raw)
			}
		})
	}
}

// TestEventTime: the time an event gets, by who sent it and whether the
// batch said when it was sent.
func TestEventTime(t *testing.T) {
	const received = int64(1_800_000_000_000)
	const hour = int64(time.Hour / time.Millisecond)
	tests := []struct {
		name       string
		ts, sentAt int64
		server     bool
		want       int64
	}{
		{"browser, clock two hours fast, event 5 s before sending", received + 2*hour - 5000, received + 2*hour, false, received - 5000},
		{"browser, clock a day slow, event a day old", received - 48*hour, received - 24*hour, false, received - 24*hour},
		{"browser without sent_at", received - hour, 0, false, received},
		{"browser dating an event after its sending", received, received - 1000, false, received},
		{"browser dating an event 40 days back", received - 40*24*hour, received, false, received},
		{"server, clock a minute slow", received - 10*hour - 60000, received - 60000, true, received - 10*hour},
		{"server without sent_at: history as given", received - 90*24*hour, 0, true, received - 90*24*hour},
	}
	for _, tt := range tests {
		if got := eventTime(tt.ts, tt.sentAt, received, tt.server); got != tt.want {
			t.Errorf("%s: eventTime = %d, want %d (off by %s)", tt.name, got, tt.want, time.Duration(got-tt.want)*time.Millisecond)
		}
	}

	// Through the intake: ts is corrected, the client's is kept, and a
	// search's flat date follows ts.
	p := &recordingPublisher{}
	c := newTrustCollector(t, p)
	sent := time.Now().Add(3 * time.Hour).UnixMilli() // a clock three hours fast
	body := `{"site":"` + writeKey + `","sent_at":` + strconv.FormatInt(sent, 10) + `,"events":[` +
		strings.Replace(ev(id1, "search", `,"search":{"keyword":"fan"}`), "1700000000000", strconv.FormatInt(sent-2000, 10), 1) + `]}`
	if res, br := post(t, c, []byte(body), nil); res.StatusCode != 200 {
		t.Fatalf("answer %d %+v", res.StatusCode, br)
	}
	s := p.byTopic("footfall.search")[0]
	ts, orig, recv := int64(s["ts"].(float64)), int64(s["original_ts"].(float64)), int64(s["received_at"].(float64))
	if ts != recv-2000 || orig != sent-2000 || s["date"] != s["ts"] {
		t.Errorf("ts %d, original_ts %d, date %v; want received_at-2s (%d), the client's %d and ts", ts, orig, s["date"], recv-2000, sent-2000)
	}
}

func TestServerKeysAndOriginsConfig(t *testing.T) {
	var keys config.ServerKeys
	if err := keys.Set("shop=sk_a, shop=sk_b,other=sk_c"); err != nil || len(keys) != 3 || keys["sk_b"] != "shop" {
		t.Fatalf("Set: %v %v", err, keys)
	}
	if s := keys.String(); strings.Contains(s, "sk_") {
		t.Errorf("String() shows a key: %q", s)
	}
	if err := keys.Set("shop=sk_a,other=sk_a"); err == nil || strings.Contains(err.Error(), "sk_a") {
		t.Errorf("one key for two sites: %v, want an error that does not show the key", err)
	}
	if err := keys.Set("shop="); err == nil {
		t.Error("an empty key was accepted")
	}

	var origins Origins
	if err := origins.Set("shop=HTTPS://Shop.Example:443/|http://127.0.0.1:8080,shop=http://[::1]:80"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(origins["shop"], " "); got != "https://shop.example http://127.0.0.1:8080 http://[::1]" {
		t.Errorf("origins %q, want them as browsers send them", got)
	}
	for _, bad := range []string{"shop=shop.example", "shop=https://shop.example/path", "shop=ftp://shop.example", "shop=https://", "shop=https://a.example|"} {
		if err := origins.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}

	tests := []struct {
		name   string
		change func(c *Config)
		flag   string
	}{
		{"a server key of an unknown site", func(c *Config) { c.ServerKeys = config.ServerKeys{"sk": "elsewhere"} }, "collector-server-keys"},
		{"a write key as server key", func(c *Config) { c.ServerKeys = config.ServerKeys{writeKey: "shop"} }, "collector-server-keys"},
		{"origins of an unknown site", func(c *Config) { c.AllowedOrigins = Origins{"elsewhere": {"https://a.example"}} }, "collector-allowed-origins"},
		{"all of them right", func(c *Config) {
			c.ServerKeys = config.ServerKeys{"sk": "shop"}
			c.AllowedOrigins = Origins{"shop": {"https://a.example"}}
		}, ""},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		cfg.Sites = Sites{writeKey: "shop"}
		tt.change(&cfg)
		err := cfg.Validate()
		var invalid *config.InvalidError
		switch {
		case tt.flag == "" && err != nil:
			t.Errorf("%s: Validate = %v", tt.name, err)
		case tt.flag != "" && (!errors.As(err, &invalid) || invalid.Flag != tt.flag):
			t.Errorf("%s: Validate = %v, want an error naming --%s", tt.name, err, tt.flag)
		case err != nil && strings.Contains(err.Error(), writeKey):
			t.Errorf("%s: Validate shows a key: %v", tt.name, err)
		}
	}
}
