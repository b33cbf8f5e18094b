package collector

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/server"
)

// clock is a fake time for a rateLimiter.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLimiter(cfg RateLimits, maxEvents int) (*rateLimiter, *clock) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	r := newRateLimiter(cfg, maxEvents, prometheus.NewRegistry())
	r.now = clk.now
	return r, clk
}

func TestRateLimiterAddresses(t *testing.T) {
	r, clk := newTestLimiter(RateLimits{IP: 10, IPBurst: 20}, 10)
	const ip = "203.0.113.77"
	if reason, _ := r.take(ip, 20, "", 0); reason != "" {
		t.Fatalf("a full burst was refused: %s", reason)
	}
	reason, wait := r.take(ip, 1, "", 0)
	if reason != event.ReasonRateLimitedIP || wait != 100*time.Millisecond {
		t.Fatalf("past the burst: %q, wait %v; want %s after 100ms", reason, wait, event.ReasonRateLimitedIP)
	}
	clk.advance(100 * time.Millisecond)
	if reason, _ := r.take(ip, 1, "", 0); reason != "" {
		t.Fatalf("a refilled token was refused: %s", reason)
	}
	if reason, _ := r.take("203.0.113.78", 20, "", 0); reason != "" {
		t.Fatalf("another address shares the bucket: %s", reason)
	}
	for _, loop := range []string{"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "", "not-an-ip"} {
		for range 3 {
			if reason, _ := r.take(loop, 20, "", 0); reason != "" {
				t.Fatalf("%q was limited", loop)
			}
		}
	}
	// One IPv6 subscriber has a /64: one bucket for all of it.
	if reason, _ := r.take("2001:db8:1:2::1", 20, "", 0); reason != "" {
		t.Fatal(reason)
	}
	if reason, _ := r.take("2001:db8:1:2:ffff::9", 1, "", 0); reason != event.ReasonRateLimitedIP {
		t.Fatalf("another address of the same /64: %q, want it limited", reason)
	}
	if reason, _ := r.take("2001:db8:1:3::1", 1, "", 0); reason != "" {
		t.Fatalf("the next /64 is limited: %s", reason)
	}
}

func TestRateLimiterOff(t *testing.T) {
	r, _ := newTestLimiter(RateLimits{IP: 0, IPBurst: 0}, 10)
	for range 100 {
		if reason, _ := r.take("203.0.113.77", 10, "", 0); reason != "" {
			t.Fatalf("limited with the limit off: %s", reason)
		}
	}
}

func TestRateLimiterSiteQuota(t *testing.T) {
	// 2 events/s is a burst of 20, below a full batch of 50: a full batch
	// must still pass once the bucket is full.
	r, clk := newTestLimiter(RateLimits{IP: 100, IPBurst: 100, Sites: Quotas{"shop": 2}}, 50)
	if reason, _ := r.take("203.0.113.77", 49, "shop", 50); reason != "" {
		t.Fatalf("a full batch was refused: %s", reason)
	}
	reason, wait := r.take("203.0.113.77", 9, "shop", 10)
	if reason != event.ReasonRateLimitedSite || wait != 5*time.Second {
		t.Fatalf("over the quota: %q, wait %v; want %s, 5s", reason, wait, event.ReasonRateLimitedSite)
	}
	// The address's tokens were handed back when the site refused.
	if reason, _ := r.take("203.0.113.77", 51, "", 0); reason != "" {
		t.Fatalf("the refused batch kept the address's tokens: %s", reason)
	}
	if reason, _ := r.take("203.0.113.99", 9, "other", 10); reason != "" {
		t.Fatalf("a site without a quota was limited: %s", reason)
	}
	clk.advance(5 * time.Second)
	if reason, _ := r.take("203.0.113.99", 9, "shop", 10); reason != "" {
		t.Fatalf("the quota did not refill: %s", reason)
	}
}

// TestRateLimiterMemoryIsBounded: buckets that refilled are dropped, and
// no more than maxAddresses are ever kept.
func TestRateLimiterMemoryIsBounded(t *testing.T) {
	r, clk := newTestLimiter(RateLimits{IP: 10, IPBurst: 20}, 10)
	r.maxAddresses = 50
	for i := range 200 {
		r.take(fmt.Sprintf("198.51.%d.%d", i/250, i%250), 5, "", 0)
		if n := len(r.addresses); n > r.maxAddresses {
			t.Fatalf("%d buckets kept, bound %d", n, r.maxAddresses)
		}
	}
	clk.advance(sweepEvery) // every bucket has refilled by now
	r.take("198.51.100.1", 1, "", 0)
	if n := len(r.addresses); n != 1 {
		t.Fatalf("%d buckets after a sweep, want only the new one", n)
	}
	// At the bound, a sweep keeps the buckets that have not refilled: a
	// client over its limit cannot get a fresh burst by making others
	// fill the map.
	r.maxAddresses = 3
	r.take("198.51.100.2", 20, "", 0) // empty, refills in 2s
	r.take("198.51.100.3", 1, "", 0)  // refills in 0.1s
	clk.advance(time.Second)
	r.take("198.51.100.4", 1, "", 0) // at the bound: a sweep drops .1 and .3
	if _, kept := r.addresses[mustPrefix(t, "198.51.100.2")]; !kept || len(r.addresses) != 2 {
		t.Fatalf("after a sweep at the bound: %d buckets, the limited one kept: %v", len(r.addresses), kept)
	}
	if reason, _ := r.take("198.51.100.2", 11, "", 0); reason != event.ReasonRateLimitedIP {
		t.Fatalf("the limited address got a fresh bucket: %q", reason)
	}
}

func mustPrefix(t *testing.T, ip string) netip.Prefix {
	t.Helper()
	p, err := netip.MustParseAddr(ip).Prefix(32)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRateLimitsValidate(t *testing.T) {
	sites := Sites{"wk": "shop"}
	tests := []struct {
		name string
		r    RateLimits
		flag string
	}{
		{"defaults", DefaultRateLimits(), ""},
		{"off", RateLimits{}, ""},
		{"negative rate", RateLimits{IP: -1, IPBurst: 1000}, "collector-rate-ip"},
		{"burst below a batch", RateLimits{IP: 10, IPBurst: 499}, "collector-rate-ip-burst"},
		{"quota of a known site", RateLimits{Sites: Quotas{"shop": 0.5}}, ""},
		{"quota of an unknown site", RateLimits{Sites: Quotas{"elsewhere": 5}}, "collector-site-quotas"},
		{"quota of zero", RateLimits{Sites: Quotas{"shop": 0}}, "collector-site-quotas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate(sites, 500)
			var invalid *config.InvalidError
			switch {
			case tt.flag == "" && err != nil:
				t.Fatalf("Validate = %v", err)
			case tt.flag != "" && (!errors.As(err, &invalid) || invalid.Flag != tt.flag):
				t.Fatalf("Validate = %v, want an error naming --%s", err, tt.flag)
			}
		})
	}
	var q Quotas
	if err := q.Set("shop=12.5, other=3"); err != nil || q["shop"] != 12.5 || q["other"] != 3 || q.String() != "other=3,shop=12.5" {
		t.Fatalf("Set: %v %v", err, q)
	}
	for _, bad := range []string{"shop", "shop=", "=5", "shop=fast"} {
		if err := q.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

// limitedCollector is a collector whose limiter runs on a fake clock.
func limitedCollector(t *testing.T, p *recordingPublisher, change func(*Config)) (*Collector, *clock) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Sites = Sites{writeKey: "shop"}
	cfg.MaxEvents = 10
	cfg.Rate = RateLimits{IP: 10, IPBurst: 20, Sites: Quotas{}}
	change(&cfg)
	c, err := New(cfg, Deps{Publisher: p, Ops: server.NewOps(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	c.limiter.now = clk.now
	return c, clk
}

// postFrom posts a batch of n pageviews from remote, with X-Forwarded-For
// when xff is set, and returns the status and the answer's error.
func postFrom(c *Collector, n int, remote, xff string) (*httptest.ResponseRecorder, string) {
	events := make([]string, n)
	for i := range events {
		events[i] = ev(fmt.Sprintf("0b6f1c2e-4a1d-4f7e-9c55-3f2a1b0c%04d", i), "pageview", "")
	}
	body := `{"site":"` + writeKey + `","events":[` + strings.Join(events, ",") + `]}`
	req := httptest.NewRequest(http.MethodPost, "/v1/batch", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.RemoteAddr = remote + ":5555"
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	w := serve(c, req)
	return w, w.Header().Get("Retry-After")
}

func TestHandlerRateLimits(t *testing.T) {
	t.Run("an address over its limit gets 429 with Retry-After, counted", func(t *testing.T) {
		p := &recordingPublisher{}
		c, clk := limitedCollector(t, p, func(*Config) {})
		for i := range 2 {
			if w, _ := postFrom(c, 10, "203.0.113.77", ""); w.Code != http.StatusOK {
				t.Fatalf("batch %d within the burst: %d %s", i, w.Code, w.Body)
			}
		}
		w, retry := postFrom(c, 10, "203.0.113.77", "")
		if w.Code != http.StatusTooManyRequests || retry != "1" || !strings.Contains(w.Body.String(), `"error":"rate_limited_ip"`) {
			t.Fatalf("past the burst: %d Retry-After %q %s", w.Code, retry, w.Body)
		}
		if w.Header().Get("Access-Control-Expose-Headers") != "Retry-After" {
			t.Error("a 429 lacks the CORS headers the beacon needs to read Retry-After")
		}
		if p.count() != 20 {
			t.Fatalf("%d records published, want the 20 events of the two batches allowed", p.count())
		}
		if w, _ := postFrom(c, 10, "203.0.113.78", ""); w.Code != http.StatusOK {
			t.Fatalf("another address was limited: %d", w.Code)
		}
		clk.advance(time.Second)
		if w, _ := postFrom(c, 10, "203.0.113.77", ""); w.Code != http.StatusOK {
			t.Fatalf("after Retry-After: %d %s", w.Code, w.Body)
		}
		m := serve(c, httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String()
		for _, want := range []string{
			`footfall_collector_events_rejected_total{reason="rate_limited_ip"} 1`,
			`footfall_collector_requests_total{code="429"} 1`,
			`footfall_collector_rate_limited_addresses 2`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})

	t.Run("a request over the limit is refused before its body is read", func(t *testing.T) {
		c, _ := limitedCollector(t, &recordingPublisher{}, func(*Config) {})
		postFrom(c, 10, "203.0.113.77", "")
		postFrom(c, 10, "203.0.113.77", "")
		req := httptest.NewRequest(http.MethodPost, "/v1/batch", strings.NewReader("not even JSON"))
		req.RemoteAddr = "203.0.113.77:5555"
		if w := serve(c, req); w.Code != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429 before the body is looked at", w.Code)
		}
	})

	t.Run("loopback clients are not limited", func(t *testing.T) {
		c, _ := limitedCollector(t, &recordingPublisher{}, func(*Config) {})
		for _, remote := range []string{"127.0.0.1", "::1"} {
			for i := range 5 {
				// A reverse proxy on the same host that is not trusted:
				// its X-Forwarded-For is not believed, and it is loopback.
				if w, _ := postFrom(c, 10, remote, "198.51.100.7"); w.Code != http.StatusOK {
					t.Fatalf("%s batch %d: %d %s", remote, i, w.Code, w.Body)
				}
			}
		}
	})

	t.Run("behind a trusted proxy the forwarded address is limited", func(t *testing.T) {
		c, _ := limitedCollector(t, &recordingPublisher{}, func(c *Config) {
			c.TrustedProxies = config.StringList{"10.0.0.0/8", "127.0.0.1/32"}
		})
		for _, proxy := range []string{"10.1.2.3", "127.0.0.1"} {
			client := map[string]string{"10.1.2.3": "198.51.100.7", "127.0.0.1": "198.51.100.8"}[proxy]
			postFrom(c, 10, proxy, client)
			postFrom(c, 10, proxy, client)
			if w, _ := postFrom(c, 10, proxy, client); w.Code != http.StatusTooManyRequests {
				t.Fatalf("via %s: the forwarded client %s was not limited: %d", proxy, client, w.Code)
			}
			if w, _ := postFrom(c, 10, proxy, "198.51.100.200, "+client); w.Code != http.StatusTooManyRequests {
				t.Fatalf("via %s: a forged X-Forwarded-For entry escaped the limit: %d", proxy, w.Code)
			}
			if w, _ := postFrom(c, 10, proxy, "198.51.100.9"); w.Code != http.StatusOK {
				t.Fatalf("via %s: another client behind the same proxy was limited: %d", proxy, w.Code)
			}
		}
	})

	t.Run("an untrusted proxy's X-Forwarded-For is ignored", func(t *testing.T) {
		c, _ := limitedCollector(t, &recordingPublisher{}, func(*Config) {})
		postFrom(c, 10, "192.0.2.9", "198.51.100.1")
		postFrom(c, 10, "192.0.2.9", "198.51.100.2")
		if w, _ := postFrom(c, 10, "192.0.2.9", "198.51.100.3"); w.Code != http.StatusTooManyRequests {
			t.Fatalf("rotating X-Forwarded-For escaped the limit: %d", w.Code)
		}
	})

	t.Run("a site over its quota gets 429, counted", func(t *testing.T) {
		p := &recordingPublisher{}
		c, clk := limitedCollector(t, p, func(c *Config) {
			c.Rate = RateLimits{IP: 0, Sites: Quotas{"shop": 0.5}} // a burst of one batch
		})
		if w, _ := postFrom(c, 10, "203.0.113.1", ""); w.Code != http.StatusOK {
			t.Fatalf("first batch: %d %s", w.Code, w.Body)
		}
		w, retry := postFrom(c, 1, "203.0.113.2", "")
		if w.Code != http.StatusTooManyRequests || retry != "2" || !strings.Contains(w.Body.String(), `"error":"rate_limited_site"`) {
			t.Fatalf("over the quota: %d Retry-After %q %s", w.Code, retry, w.Body)
		}
		clk.advance(2 * time.Second)
		if w, _ := postFrom(c, 1, "203.0.113.2", ""); w.Code != http.StatusOK {
			t.Fatalf("after Retry-After: %d", w.Code)
		}
		if p.count() != 11 {
			t.Fatalf("%d records published, want 11", p.count())
		}
		m := serve(c, httptest.NewRequest(http.MethodGet, "/metrics", nil)).Body.String()
		if !strings.Contains(m, `footfall_collector_events_rejected_total{reason="rate_limited_site"} 1`) {
			t.Error("/metrics does not count the refusal")
		}
	})

	t.Run("preflights are not limited", func(t *testing.T) {
		c, _ := limitedCollector(t, &recordingPublisher{}, func(*Config) {})
		postFrom(c, 10, "203.0.113.77", "")
		postFrom(c, 10, "203.0.113.77", "")
		req := httptest.NewRequest(http.MethodOptions, "/v1/batch", nil)
		req.RemoteAddr = "203.0.113.77:5555"
		if w := serve(c, req); w.Code != http.StatusNoContent {
			t.Fatalf("preflight: %d", w.Code)
		}
	})
}
