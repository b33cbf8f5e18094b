package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
)

// recordingPublisher keeps what it was sent, or fails every record of every
// publish with err, as a producer without a broker does.
type recordingPublisher struct {
	mu   sync.Mutex
	sent []kafka.Record
	err  error
}

var _ kafka.Publisher = (*recordingPublisher)(nil)

func (p *recordingPublisher) Publish(_ context.Context, recs []kafka.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		errs := make([]error, len(recs))
		for i := range errs {
			errs[i] = p.err
		}
		return &kafka.PublishError{Errs: errs}
	}
	p.sent = append(p.sent, recs...)
	return nil
}

func (p *recordingPublisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

func (p *recordingPublisher) byTopic(topic string) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, r := range p.sent {
		if r.Topic != topic {
			continue
		}
		var v map[string]any
		_ = json.Unmarshal(r.Value, &v)
		out = append(out, v)
	}
	return out
}

const writeKey = "wk_test"

// linuxChrome is the User-Agent the tests' requests send.
const linuxChrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

func newTestCollector(t *testing.T, p *recordingPublisher) *Collector {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Sites = Sites{writeKey: "shop"}
	cfg.MaxBodyBytes = 4 << 10
	cfg.Limits.MaxEventBytes = 1 << 10
	cfg.DemoSite = "shop"
	c, err := New(cfg, Deps{
		Publisher: p, Ops: server.NewOps(), Log: slog.New(slog.DiscardHandler),
		Beacon: []byte("/*beacon*/"), Demo: fstest.MapFS{"index.html": {Data: []byte("<h1>shop</h1>")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serve answers req as the process does: the collector's routes beside
// /healthz, /readyz and /metrics (internal/app serves server.Mux).
func serve(c *Collector, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	server.Mux(c.deps.Ops, c.Handler(), false).ServeHTTP(w, req)
	return w
}

func ev(id, typ string, extra string) string {
	return fmt.Sprintf(`{"id":"%s","type":"%s","ts":1700000000000,"anonymous_id":"anon-1"%s}`, id, typ, extra)
}

const (
	id1 = "0b6f1c2e-4a1d-4f7e-9c55-3f2a1b0c9d81"
	id2 = "0b6f1c2e-4a1d-4f7e-9c55-3f2a1b0c9d82"
)

func post(t *testing.T, c *Collector, body []byte, header map[string]string) (*http.Response, batchResponse) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/batch", bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.Header.Set("User-Agent", linuxChrome)
	req.RemoteAddr = "203.0.113.77:5555"
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := serve(c, req)
	var br batchResponse
	if err := json.Unmarshal(w.Body.Bytes(), &br); err != nil {
		t.Fatalf("answer is not JSON: %q", w.Body.String())
	}
	return w.Result(), br
}

func TestBatchAcceptedAndStamped(t *testing.T) {
	p := &recordingPublisher{}
	c := newTestCollector(t, p)
	body := `{"site":"` + writeKey + `","events":[` +
		ev(id1, "search", `,"page":{"url":"https://shop/?q=humidifier"},"search":{"keyword":"humidifier"}`) + `,` +
		ev(id2, "pageview", "") + `]}`
	res, br := post(t, c, []byte(body), nil)
	if res.StatusCode != http.StatusOK || br.Accepted != 2 {
		t.Fatalf("status %d, %+v", res.StatusCode, br)
	}
	searches := p.byTopic("footfall.search")
	if len(searches) != 1 {
		t.Fatalf("footfall.search got %d events", len(searches))
	}
	s := searches[0]
	for field, want := range map[string]any{
		"site_id": "shop", "ip": "203.0.113.0", "user_agent": linuxChrome, "browser": "Chrome", "os": "Linux", "device": "desktop",
		"search_keyword": "humidifier", "page_url": "https://shop/?q=humidifier", "original_ts": float64(1700000000000),
	} {
		if s[field] != want {
			t.Errorf("%s = %v, want %v", field, s[field], want)
		}
	}
	if _, ok := s["received_at"]; !ok {
		t.Error("received_at not stamped")
	}
	// A browser's batch without sent_at cannot date its events: they get
	// the time the collector received them, in ts and in the flat date.
	if s["ts"] != s["received_at"] || s["date"] != s["received_at"] {
		t.Errorf("ts %v, date %v, want received_at %v", s["ts"], s["date"], s["received_at"])
	}
	if n := len(p.byTopic("footfall.pageview")); n != 1 {
		t.Errorf("footfall.pageview got %d events", n)
	}
	p.mu.Lock()
	key := p.sent[0].Key
	p.mu.Unlock()
	if string(key) != "shop:anon-1" {
		t.Errorf("key = %q, want site:anonymous_id", key)
	}
}

func TestBadInput(t *testing.T) {
	good := ev(id1, "pageview", "")
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = io.WriteString(w, s)
		_ = w.Close()
		return b.Bytes()
	}
	tests := []struct {
		name     string
		body     []byte
		header   map[string]string
		status   int
		reason   event.Reason // batch-level
		rejected event.Reason // per-event, beside a good event
	}{
		{name: "malformed JSON", body: []byte(`{"site":"` + writeKey + `","events":[`), status: 400, reason: event.ReasonMalformedJSON},
		{name: "events not a list", body: []byte(`{"site":"` + writeKey + `","events":{}}`), status: 400, reason: event.ReasonMalformedJSON},
		{name: "unknown site", body: []byte(`{"site":"nope","events":[` + good + `]}`), status: 401, reason: event.ReasonUnknownSite},
		{name: "empty batch", body: []byte(`{"site":"` + writeKey + `","events":[]}`), status: 400, reason: event.ReasonEmptyBatch},
		{name: "oversized body", body: []byte(`{"site":"` + writeKey + `","events":[` + good + `],"pad":"` + strings.Repeat("x", 5<<10) + `"}`), status: 413, reason: event.ReasonBodyTooLarge},
		{name: "gzip bomb", body: gz(`{"site":"` + writeKey + `","pad":"` + strings.Repeat("x", 40<<10) + `"}`), header: map[string]string{"Content-Encoding": "gzip"}, status: 413, reason: event.ReasonBodyTooLarge},
		{name: "not gzip", body: []byte("plain"), header: map[string]string{"Content-Encoding": "gzip"}, status: 400, reason: event.ReasonBadEncoding},
		{name: "unknown encoding", body: []byte("x"), header: map[string]string{"Content-Encoding": "br"}, status: 415, reason: event.ReasonBadEncoding},
		{name: "wrong content type", body: []byte(`{}`), header: map[string]string{"Content-Type": "application/xml"}, status: 415, reason: event.ReasonBadEncoding},
		{name: "wrong field type", body: []byte(`{"site":"` + writeKey + `","events":[` + good + `,{"id":"` + id2 + `","type":"click","ts":"now","anonymous_id":"a"}]}`), status: 400, rejected: event.ReasonInvalidField},
		{name: "unknown type", body: []byte(`{"site":"` + writeKey + `","events":[` + good + `,` + ev(id2, "hover", "") + `]}`), status: 400, rejected: event.ReasonUnknownType},
		{name: "missing id", body: []byte(`{"site":"` + writeKey + `","events":[` + good + `,{"type":"click","ts":1,"anonymous_id":"a"}]}`), status: 400, rejected: event.ReasonMissingID},
		{name: "oversized event", body: []byte(`{"site":"` + writeKey + `","events":[` + good + `,` + ev(id2, "custom", `,"name":"x","props":{"p":"`+strings.Repeat("y", 2<<10)+`"}`) + `]}`), status: 400, rejected: event.ReasonEventTooLarge},
		{name: "not UTF-8", body: []byte(`{"site":"` + writeKey + `","events":[` + good + `,` + ev(id2, "custom", `,"name":"x","props":{"city":"M`+"\xfc"+`nchen"}`) + `]}`), status: 400, rejected: event.ReasonInvalidUTF8},
		{name: "type twice", body: []byte(`{"site":"` + writeKey + `","events":[` + good + `,` + ev(id2, "pageview", `,"Type":"identify"`) + `]}`), status: 400, rejected: event.ReasonDuplicateKey},
		{name: "site twice", body: []byte(`{"site":"` + writeKey + `","events":[` + good + `],"site":"other"}`), status: 400, reason: event.ReasonDuplicateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &recordingPublisher{}
			c := newTestCollector(t, p)
			res, br := post(t, c, tt.body, tt.header)
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d (%+v)", res.StatusCode, tt.status, br)
			}
			if tt.reason != "" {
				if br.Error != tt.reason {
					t.Fatalf("error = %q, want %q", br.Error, tt.reason)
				}
				if n := p.count(); n != 0 {
					t.Fatalf("a refused batch produced %d messages", n)
				}
				return
			}
			if br.Accepted != 1 || len(br.Rejected) != 1 || br.Rejected[0].Reason != tt.rejected || br.Rejected[0].Index != 1 {
				t.Fatalf("answer %+v, want 1 accepted and event 1 rejected for %s", br, tt.rejected)
			}
			if got := p.byTopic("footfall.pageview"); len(got) != 1 || got[0]["id"] != id1 {
				t.Fatalf("the good event beside the bad one did not reach Kafka: %v", got)
			}
			inv := p.byTopic("footfall.invalid")
			if len(inv) != 1 || inv[0]["reason"] != string(tt.rejected) {
				t.Fatalf("footfall.invalid = %v, want the rejected event with its reason", inv)
			}
		})
	}
}

func TestGzipTextPlainBatch(t *testing.T) {
	p := &recordingPublisher{}
	c := newTestCollector(t, p)
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = io.WriteString(w, `{"site":"`+writeKey+`","events":[`+ev(id1, "pageview", "")+`]}`)
	_ = w.Close()
	res, br := post(t, c, b.Bytes(), map[string]string{"Content-Encoding": "gzip"})
	if res.StatusCode != 200 || br.Accepted != 1 {
		t.Fatalf("status %d %+v", res.StatusCode, br)
	}
}

func TestKafkaDownIs503WithRetryAfter(t *testing.T) {
	p := &recordingPublisher{err: errors.New("brokers unreachable")}
	c := newTestCollector(t, p)
	res, br := post(t, c, []byte(`{"site":"`+writeKey+`","events":[`+ev(id1, "pageview", "")+`]}`), nil)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if br.Accepted != 0 || br.Error != "kafka_unavailable" {
		t.Fatalf("answer %+v", br)
	}
}

func TestCORSAndAssets(t *testing.T) {
	c := newTestCollector(t, &recordingPublisher{})
	for _, tt := range []struct {
		method, path string
		status       int
		header, want string
	}{
		{http.MethodOptions, "/v1/batch", 204, "Access-Control-Allow-Origin", "*"},
		{http.MethodGet, "/footfall.js", 200, "Content-Type", "application/javascript; charset=utf-8"},
		{http.MethodGet, "/demo/config.json", 200, "Content-Type", "application/json; charset=utf-8"},
		{http.MethodGet, "/healthz", 200, "Content-Type", "application/json"},
	} {
		w := serve(c, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != tt.status || w.Header().Get(tt.header) != tt.want {
			t.Errorf("%s %s: %d %s=%q", tt.method, tt.path, w.Code, tt.header, w.Header().Get(tt.header))
		}
		if w.Header().Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s allows credentials", tt.path)
		}
	}
	w := serve(c, httptest.NewRequest(http.MethodGet, "/demo/config.json", nil))
	var cfg map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &cfg)
	if cfg["site"] != writeKey || cfg["site_id"] != "shop" || cfg["promotions_url"] == "" {
		t.Errorf("demo config = %v", cfg)
	}
}

func TestTruncateIP(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.77": "203.0.113.0", "2001:db8:abcd:12:1:2:3:4": "2001:db8:abcd::", "junk": "",
	} {
		if got := truncateIP(in); got != want {
			t.Errorf("truncateIP(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestIdentityVerification(t *testing.T) {
	const secret = "s3cret=="
	identify := func(id, user, hash string) string {
		props := ""
		if hash != "" {
			props = `,"props":{"user_hash":"` + hash + `","plan":"gold"}`
		}
		return ev(id, "identify", `,"user_id":"`+user+`"`+props)
	}
	tests := []struct {
		name   string
		hash   string
		reject bool
	}{
		{"signed by the shop's server", event.UserHash(secret, "user-42"), false},
		{"another user's hash", event.UserHash(secret, "user-43"), true},
		{"signed with another secret", event.UserHash("guess", "user-42"), true},
		{"no hash", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &recordingPublisher{}
			c := newTestCollector(t, p)
			c.cfg.IdentitySecrets = config.Secrets{"shop": secret}
			body := `{"site":"` + writeKey + `","events":[` + ev(id1, "pageview", "") + `,` + identify(id2, "user-42", tt.hash) + `]}`
			res, br := post(t, c, []byte(body), nil)
			if len(p.byTopic("footfall.pageview")) != 1 {
				t.Fatal("the pageview beside the identify did not reach Kafka")
			}
			ids := p.byTopic("footfall.identify")
			if tt.reject {
				if res.StatusCode != http.StatusBadRequest || len(br.Rejected) != 1 || br.Rejected[0].Reason != event.ReasonBadUserHash || br.Rejected[0].ID != id2 {
					t.Fatalf("answer %d %+v, want the identify rejected for %s", res.StatusCode, br, event.ReasonBadUserHash)
				}
				if len(ids) != 0 {
					t.Fatalf("an unverified identify reached footfall.identify: %v", ids)
				}
				if inv := p.byTopic("footfall.invalid"); len(inv) != 1 || inv[0]["reason"] != string(event.ReasonBadUserHash) {
					t.Fatalf("footfall.invalid = %v", inv)
				}
				return
			}
			if res.StatusCode != http.StatusOK || br.Accepted != 2 || len(ids) != 1 {
				t.Fatalf("answer %d %+v, footfall.identify %v: want the identify accepted", res.StatusCode, br, ids)
			}
			if props, _ := ids[0]["props"].(map[string]any); ids[0]["user_id"] != "user-42" || ids[0]["user_verified"] != true || props["user_hash"] != nil || props["plan"] != "gold" {
				t.Errorf("identify in Kafka = %v, want user-42 vouched for, with its props but not the spent user_hash", ids[0])
			}
		})
	}

	t.Run("a site without a secret keeps a browser's identify, unvouched", func(t *testing.T) {
		p := &recordingPublisher{}
		c := newTestCollector(t, p)
		res, br := post(t, c, []byte(`{"site":"`+writeKey+`","events":[`+identify(id2, "user-42", "any")+`]}`), nil)
		ids := p.byTopic("footfall.identify")
		if res.StatusCode != http.StatusOK || br.Accepted != 1 || len(ids) != 1 {
			t.Fatalf("answer %d %+v", res.StatusCode, br)
		}
		if props, _ := ids[0]["props"].(map[string]any); ids[0]["user_verified"] != nil || props["user_hash"] != nil {
			t.Errorf("identify in Kafka = %v, want it unvouched and without user_hash", ids[0])
		}
	})
}

func TestIdentitySecretsConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Sites = Sites{"wk": "shop"}
	if err := cfg.IdentitySecrets.Set("shop=a=b, "); err != nil || cfg.IdentitySecrets["shop"] != "a=b" {
		t.Fatalf("Set: %v %v", err, cfg.IdentitySecrets)
	}
	if s := cfg.IdentitySecrets.String(); strings.Contains(s, "a=b") {
		t.Errorf("String() shows the secret: %q", s)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := cfg.IdentitySecrets.Set("other=s3cret-of-other"); err != nil {
		t.Fatal(err)
	}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "--collector-identity-secrets") || !strings.Contains(err.Error(), "other") {
		t.Errorf("Validate = %v, want an error naming --collector-identity-secrets and the unknown site", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret-of-other") {
		t.Errorf("Validate shows the secret: %v", err)
	}
	if err := cfg.IdentitySecrets.Set("shop="); err == nil {
		t.Error("an empty secret was accepted")
	}
}

// TestConfigValidate: each setting that cannot work is refused with an
// error naming its flag, so an operator knows which one to fix.
func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		flag   string // "" when the config is valid
	}{
		{"defaults with a site", func(*Config) {}, ""},
		{"body limit too small", func(c *Config) { c.MaxBodyBytes = 1023 }, "collector-max-body-bytes"},
		{"no events per batch", func(c *Config) { c.MaxEvents = 0 }, "collector-max-batch-events"},
		{"event limit too small", func(c *Config) { c.Limits.MaxEventBytes = 255 }, "collector-max-event-bytes"},
		{"demo of an unknown site", func(c *Config) { c.DemoSite = "elsewhere" }, "collector-demo-site"},
		{"demo of a known site", func(c *Config) { c.DemoSite = "shop" }, ""},
		{"secret of an unknown site", func(c *Config) { c.IdentitySecrets = config.Secrets{"elsewhere": "s"} }, "collector-identity-secrets"},
		{"address burst below a batch", func(c *Config) { c.Rate.IPBurst = c.MaxEvents - 1 }, "collector-rate-ip-burst"},
		{"quota of an unknown site", func(c *Config) { c.Rate.Sites = Quotas{"elsewhere": 5} }, "collector-site-quotas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Sites = Sites{writeKey: "shop"}
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.flag == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var invalid *config.InvalidError
			if !errors.As(err, &invalid) || invalid.Flag != tt.flag || !strings.Contains(err.Error(), "--"+tt.flag) {
				t.Fatalf("Validate = %v, want an error naming --%s", err, tt.flag)
			}
			if _, err := New(cfg, Deps{Publisher: &recordingPublisher{}, Ops: server.NewOps(), Log: slog.New(slog.DiscardHandler)}); err == nil {
				t.Errorf("New accepted a config Validate refuses")
			}
		})
	}
}
