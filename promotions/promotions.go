// Package promotions is the API a shop's homepage asks which promotions to
// show a visitor: the ones the visitor's searches and clicks made relevant,
// best first, then the site's defaults.
package promotions

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
)

// Config is the promotions API's configuration.
type Config struct {
	DefaultLimit int
	MaxLimit     int
	Timeout      time.Duration
	// IdentitySecrets are the collector's (--collector-identity-secrets):
	// on these sites a lookup by user id must carry the user's hash.
	IdentitySecrets config.Secrets
	// Resync is how often the view rereads what PostgreSQL changed (the
	// catalog, and rows whose update was never published) and drops
	// expired rows.
	Resync time.Duration
	// Heartbeat is how often an idle stream sends a comment (SSE) or a
	// ping (WebSocket), so proxies keep it open and dead peers show.
	Heartbeat time.Duration
	// StreamBuffer is how many messages a stream may have unsent before
	// its client is dropped as too slow.
	StreamBuffer int
}

// DefaultConfig answers a homepage from memory, and catches up with what
// Kafka did not carry within 5 s.
func DefaultConfig() Config {
	return Config{
		DefaultLimit: 5, MaxLimit: 50, Timeout: 2 * time.Second, IdentitySecrets: config.Secrets{},
		Resync: 5 * time.Second, Heartbeat: 15 * time.Second, StreamBuffer: 16,
	}
}

// RegisterFlags binds c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.DefaultLimit, "promotions-limit", c.DefaultLimit, "promotions returned when the request gives no limit")
	fs.IntVar(&c.MaxLimit, "promotions-max-limit", c.MaxLimit, "largest limit a request may ask for")
	fs.DurationVar(&c.Timeout, "promotions-timeout", c.Timeout, "longest a request may wait for PostgreSQL")
	fs.DurationVar(&c.Resync, "promotions-resync", c.Resync, "how often the in-memory view rereads from PostgreSQL the rows changed since its last read (a safety net for updates that never reached Kafka), the catalog, and drops expired rows")
	fs.DurationVar(&c.Heartbeat, "promotions-heartbeat", c.Heartbeat, "how often an idle stream (SSE, WebSocket) sends a heartbeat")
	fs.IntVar(&c.StreamBuffer, "promotions-stream-buffer", c.StreamBuffer, "messages a stream may have unsent before its client is disconnected as too slow")
	fs.Var(&c.IdentitySecrets, "promotions-identity-secrets", "SITE_ID=SECRET pairs, comma-separated, the same as --collector-identity-secrets: on these sites a lookup by a user id (not an anonymous id) must carry user_hash, the hex HMAC-SHA256 of the user id under SECRET, or is refused with 403")
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.DefaultLimit < 1:
		return config.Invalid("promotions-limit", c.DefaultLimit, "at least 1")
	case c.MaxLimit < c.DefaultLimit:
		return config.Invalid("promotions-max-limit", c.MaxLimit, fmt.Sprintf("at least --promotions-limit (%d)", c.DefaultLimit))
	case c.Timeout <= 0:
		return config.Invalid("promotions-timeout", c.Timeout, "a positive duration")
	case c.Resync <= 0:
		return config.Invalid("promotions-resync", c.Resync, "a positive duration")
	case c.Heartbeat <= 0:
		return config.Invalid("promotions-heartbeat", c.Heartbeat, "a positive duration")
	case c.StreamBuffer < 1:
		return config.Invalid("promotions-stream-buffer", c.StreamBuffer, "at least 1")
	}
	return nil
}

// Promotion is one entry of the answer.
type Promotion struct {
	ID     string  `json:"id"`
	Title  string  `json:"title"`
	URL    string  `json:"url"`
	Image  string  `json:"image"`
	Score  float64 `json:"score"`
	Reason string  `json:"reason"`
}

// Response is the body of GET /v1/promotions.
type Response struct {
	Site       string      `json:"site"`
	User       string      `json:"user"`
	Promotions []Promotion `json:"promotions"`
}

// API serves GET /v1/promotions, and with a view its streams.
type API struct {
	cfg    Config
	pool   *pgxpool.Pool
	log    *slog.Logger
	engine *gin.Engine
	m      *metrics
	// kafka, view and streams are set by NewLive; without them every
	// lookup asks PostgreSQL.
	kafka   kafka.Config
	view    *view
	streams *hub
}

// New builds the API over the PostgreSQL pool the enricher writes to (or a
// read replica of it), asking it on every lookup.
func New(cfg Config, pool *pgxpool.Pool, ops *server.Ops, log *slog.Logger) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &API{cfg: cfg, pool: pool, log: log, m: newMetrics(ops.Registry())}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(gin.Recovery())
	e.GET("/v1/promotions", a.serve)
	a.engine = e
	return a, nil
}

// Deps are what a live API is given.
type Deps struct {
	Pool  *pgxpool.Pool
	Kafka kafka.Config
	Ops   *server.Ops
	Log   *slog.Logger
}

// NewLive builds the API that answers from an in-memory view of
// PostgreSQL, kept current by reading every partition of the
// promotion_updates topic, and pushes changes to SSE and WebSocket
// streams. Run fills the view; until then readiness and lookups are 503.
func NewLive(cfg Config, d Deps) (*API, error) {
	a, err := New(cfg, d.Pool, d.Ops, d.Log)
	if err != nil {
		return nil, err
	}
	a.kafka, a.view = d.Kafka, newView()
	a.streams = newHub(a.view, cfg.StreamBuffer, a.m)
	a.engine.GET("/v1/promotions/stream", a.serveSSE)
	a.engine.GET("/v1/promotions/ws", a.serveWebSocket)
	d.Ops.AddCheck("promotions-view", func(context.Context) error {
		if !a.view.filled.Load() {
			return errNotFilled
		}
		return nil
	})
	return a, nil
}

// Handler is the API's HTTP handler; the process serves it beside the
// operational endpoints.
func (a *API) Handler() http.Handler { return a.engine }

// Run fills and follows the view of a live API until ctx ends, then
// closes its streams so the listener can stop. The process stops the
// listener before it closes the pool.
func (a *API) Run(ctx context.Context) error {
	if a.view == nil {
		<-ctx.Done()
		return nil
	}
	err := a.follow(ctx)
	a.streams.close()
	return err
}

// ask is a lookup's or a stream's request once checked: whose promotions,
// how many. ok is false when c has been answered with the reason it was
// refused.
type ask struct {
	site, user string
	limit      int
}

func (a *API) parse(c *gin.Context) (q ask, ok bool) {
	// Any shop page may ask; the answer is per visitor, so never cached.
	c.Header("Access-Control-Allow-Origin", "*")
	c.Header("Cache-Control", "no-store")
	q.site, q.user = c.Query("site"), c.Query("user")
	if q.site == "" {
		a.m.bad.Inc()
		c.JSON(http.StatusBadRequest, gin.H{"error": "missing_site", "detail": "site is required"})
		return q, false
	}
	q.limit = a.cfg.DefaultLimit
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > a.cfg.MaxLimit {
			a.m.bad.Inc()
			c.JSON(http.StatusBadRequest, gin.H{"error": "bad_limit", "detail": "limit must be 1.." + strconv.Itoa(a.cfg.MaxLimit)})
			return q, false
		}
		q.limit = n
	}
	return q, true
}

// guard applies the identity rule of a site with a secret, and tells
// whether the rule still needs to know if q.user is a known user id
// (asked after the answer is read: see serve).
func (a *API) guard(c *gin.Context, q ask) (askKnown, ok bool) {
	secret, guarded := a.cfg.IdentitySecrets[q.site]
	hash := c.Query("user_hash")
	if guarded && hash != "" && !event.ValidUserHash(secret, q.user, hash) {
		a.forbid(c, "invalid_user_hash", "user_hash is not the hex HMAC-SHA256 of user under the site's identity secret")
		return false, false
	}
	return guarded && hash == "" && q.user != "", true
}

func (a *API) serve(c *gin.Context) {
	start := time.Now()
	q, ok := a.parse(c)
	if !ok {
		return
	}
	askKnown, ok := a.guard(c, q)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), a.cfg.Timeout)
	defer cancel()
	promos, err := a.top(ctx, q.site, q.user, q.limit)
	// Asked after the answer was read: known_users only grows, and gets
	// a user in the transaction that first stores anything about them, so
	// a user unknown now was unknown to the read.
	if err == nil && askKnown {
		var known bool
		if known, err = a.knownUser(ctx, q.site, q.user); err == nil && known {
			a.forbid(c, "user_hash_required", "user is a user id of a site with an identity secret: ask with user_hash, the HMAC the shop's server computes, or by anonymous id")
			return
		}
	}
	if err != nil {
		a.m.failed.Inc()
		if !errors.Is(err, errNotFilled) {
			a.log.Error("read promotions", "site", q.site, "err", err)
		}
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
		return
	}
	if len(promos) > 0 && promos[0].Score > 0 {
		a.m.personal.Inc()
	} else {
		a.m.defaults.Inc()
	}
	a.m.latency.Observe(time.Since(start).Seconds())
	c.JSON(http.StatusOK, Response{Site: q.site, User: q.user, Promotions: promos})
}

// forbid answers a lookup by user id that did not prove to be that user's.
func (a *API) forbid(c *gin.Context, reason, detail string) {
	a.m.forbidden.Inc()
	c.JSON(http.StatusForbidden, gin.H{"error": reason, "detail": detail})
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  prometheus.Histogram
	// requests' children, resolved once: the lookup is the hot path.
	personal, defaults, bad, forbidden, failed prometheus.Counter
	liveMetrics
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_promotions_requests_total", Help: "Promotion requests by outcome: personal, default, bad_request, forbidden, error.",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "footfall_promotions_request_seconds", Help: "Time to answer a promotions request.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	m.personal, m.defaults = m.requests.WithLabelValues("personal"), m.requests.WithLabelValues("default")
	m.bad, m.forbidden, m.failed = m.requests.WithLabelValues("bad_request"), m.requests.WithLabelValues("forbidden"), m.requests.WithLabelValues("error")
	reg.MustRegister(m.requests, m.latency)
	m.registerLive(reg)
	return m
}
