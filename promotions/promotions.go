// Package promotions is the API a shop's homepage asks which promotions to
// show a visitor: the ones the visitor's searches and clicks made relevant,
// best first, then the site's defaults.
package promotions

import (
	"context"
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
}

// DefaultConfig answers a homepage in one small query.
func DefaultConfig() Config {
	return Config{DefaultLimit: 5, MaxLimit: 50, Timeout: 2 * time.Second, IdentitySecrets: config.Secrets{}}
}

// RegisterFlags binds c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.DefaultLimit, "promotions-limit", c.DefaultLimit, "promotions returned when the request gives no limit")
	fs.IntVar(&c.MaxLimit, "promotions-max-limit", c.MaxLimit, "largest limit a request may ask for")
	fs.DurationVar(&c.Timeout, "promotions-timeout", c.Timeout, "longest a request may wait for PostgreSQL")
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

// API serves GET /v1/promotions.
type API struct {
	cfg    Config
	pool   *pgxpool.Pool
	log    *slog.Logger
	engine *gin.Engine
	m      *metrics
}

// New builds the API over the PostgreSQL pool the enricher writes to (or a
// read replica of it).
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

// Handler is the API's HTTP handler; the process serves it beside the
// operational endpoints.
func (a *API) Handler() http.Handler { return a.engine }

// Run has nothing to do beside the handler: the process stops the listener
// before it closes the pool.
func (a *API) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

func (a *API) serve(c *gin.Context) {
	start := time.Now()
	// Any shop page may ask; the answer is per visitor, so never cached.
	c.Header("Access-Control-Allow-Origin", "*")
	c.Header("Cache-Control", "no-store")
	site, user, hash := c.Query("site"), c.Query("user"), c.Query("user_hash")
	if site == "" {
		a.m.requests.WithLabelValues("bad_request").Inc()
		c.JSON(http.StatusBadRequest, gin.H{"error": "missing_site", "detail": "site is required"})
		return
	}
	limit := a.cfg.DefaultLimit
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > a.cfg.MaxLimit {
			a.m.requests.WithLabelValues("bad_request").Inc()
			c.JSON(http.StatusBadRequest, gin.H{"error": "bad_limit", "detail": "limit must be 1.." + strconv.Itoa(a.cfg.MaxLimit)})
			return
		}
		limit = n
	}
	secret, guarded := a.cfg.IdentitySecrets[site]
	if guarded && hash != "" && !event.ValidUserHash(secret, user, hash) {
		a.forbid(c, "invalid_user_hash", "user_hash is not the hex HMAC-SHA256 of user under the site's identity secret")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), a.cfg.Timeout)
	defer cancel()
	promos, err := a.top(ctx, site, user, limit)
	// Asked after the answer was read: known_users only grows, and gets
	// a user in the transaction that first stores anything about them, so
	// a user unknown now was unknown to the read.
	if err == nil && guarded && hash == "" && user != "" {
		var known bool
		if known, err = a.knownUser(ctx, site, user); err == nil && known {
			a.forbid(c, "user_hash_required", "user is a user id of a site with an identity secret: ask with user_hash, the HMAC the shop's server computes, or by anonymous id")
			return
		}
	}
	if err != nil {
		a.m.requests.WithLabelValues("error").Inc()
		a.log.Error("read promotions", "site", site, "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
		return
	}
	outcome := "default"
	if len(promos) > 0 && promos[0].Score > 0 {
		outcome = "personal"
	}
	a.m.requests.WithLabelValues(outcome).Inc()
	a.m.latency.Observe(time.Since(start).Seconds())
	c.JSON(http.StatusOK, Response{Site: site, User: user, Promotions: promos})
}

// forbid answers a lookup by user id that did not prove to be that user's.
func (a *API) forbid(c *gin.Context, reason, detail string) {
	a.m.requests.WithLabelValues("forbidden").Inc()
	c.JSON(http.StatusForbidden, gin.H{"error": reason, "detail": detail})
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  prometheus.Histogram
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
	reg.MustRegister(m.requests, m.latency)
	return m
}
