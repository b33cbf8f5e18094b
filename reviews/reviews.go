// Package reviews is the API a shop's server posts product reviews to and
// reads them from. A review is stored as pending in PostgreSQL and handed
// to the moderator through Kafka; the shop never waits for moderation.
// Shoppers see a review once the moderator approved it; its author sees it
// pending, then approved or rejected with the reason (docs/moderation.md).
package reviews

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
)

// Config is the reviews API's configuration.
type Config struct {
	// ServerKeys are the shops' secret server keys: both POST and GET
	// need one, as the HTTP Basic user name with an empty password. The
	// viewer of a GET sees their own pending and rejected reviews, so only
	// the shop's server, which knows who is logged in, may name one.
	ServerKeys config.ServerKeys
	// MaxBody and MaxTitle bound a review's text, in characters.
	MaxBody, MaxTitle int
	DefaultLimit      int
	MaxLimit          int
	// Timeout bounds a request's wait for PostgreSQL, and for Kafka's
	// acknowledgement of a new review.
	Timeout time.Duration
}

// DefaultConfig takes reviews of up to 5,000 characters.
func DefaultConfig() Config {
	return Config{ServerKeys: config.ServerKeys{}, MaxBody: 5000, MaxTitle: 200, DefaultLimit: 20, MaxLimit: 100, Timeout: 2 * time.Second}
}

// RegisterFlags binds c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Var(&c.ServerKeys, "reviews-server-keys", "SITE_ID=KEY pairs, comma-separated: the secret server keys a shop's server sends as the HTTP Basic user name (empty password) to post and read reviews (may be the collector's)")
	fs.IntVar(&c.MaxBody, "reviews-max-body", c.MaxBody, "longest review body accepted, in characters")
	fs.IntVar(&c.MaxTitle, "reviews-max-title", c.MaxTitle, "longest review title accepted, in characters")
	fs.IntVar(&c.DefaultLimit, "reviews-limit", c.DefaultLimit, "approved reviews returned when a GET gives no limit")
	fs.IntVar(&c.MaxLimit, "reviews-max-limit", c.MaxLimit, "largest limit a GET may ask for")
	fs.DurationVar(&c.Timeout, "reviews-timeout", c.Timeout, "longest a request waits for PostgreSQL, and for Kafka to take a new review (a review Kafka did not take is still stored: the moderator's sweep decides it)")
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxBody < 1:
		return config.Invalid("reviews-max-body", c.MaxBody, "at least 1")
	case c.MaxTitle < 0:
		return config.Invalid("reviews-max-title", c.MaxTitle, "at least 0")
	case c.DefaultLimit < 1:
		return config.Invalid("reviews-limit", c.DefaultLimit, "at least 1")
	case c.MaxLimit < c.DefaultLimit:
		return config.Invalid("reviews-max-limit", c.MaxLimit, fmt.Sprintf("at least --reviews-limit (%d)", c.DefaultLimit))
	case c.Timeout <= 0:
		return config.Invalid("reviews-timeout", c.Timeout, "a positive duration")
	}
	return nil
}

// Deps are what the API is given.
type Deps struct {
	Pool      *pgxpool.Pool
	Publisher kafka.Publisher
	// TopicPrefix names the reviews topic: PREFIX.reviews.
	TopicPrefix string
	Ops         *server.Ops
	Log         *slog.Logger
}

// API serves /v1/reviews.
type API struct {
	cfg    Config
	pool   *pgxpool.Pool
	pub    kafka.Publisher
	topic  string
	log    *slog.Logger
	m      *metrics
	engine *gin.Engine
}

// New builds the API.
func New(cfg Config, d Deps) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &API{cfg: cfg, pool: d.Pool, pub: d.Publisher, topic: Topic(d.TopicPrefix), log: d.Log, m: newMetrics(d.Ops.Registry())}
	if len(cfg.ServerKeys) == 0 {
		// Allowed, so `footfall all` starts without it: every request is
		// then refused with 401.
		d.Log.Warn("no --reviews-server-keys: every review request will be refused")
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(gin.Recovery())
	e.POST("/v1/reviews", a.post)
	e.GET("/v1/reviews", a.get)
	a.engine = e
	return a, nil
}

// Handler is the API's HTTP handler.
func (a *API) Handler() http.Handler { return a.engine }

// Run waits for ctx: every request is answered within the handler.
func (a *API) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// site authenticates a request by its server key and returns its site, or
// answers the request and returns false.
func (a *API) site(c *gin.Context, refuse func(status int, reason, detail string)) (string, bool) {
	key, password, ok := c.Request.BasicAuth()
	if !ok || key == "" || password != "" {
		c.Header("WWW-Authenticate", `Basic realm="footfall"`)
		refuse(http.StatusUnauthorized, "bad_credentials", "Authorization must be HTTP Basic with the site's server key as the user name and an empty password")
		return "", false
	}
	site, ok := a.cfg.ServerKeys.SiteOf(key)
	if !ok {
		c.Header("WWW-Authenticate", `Basic realm="footfall"`)
		refuse(http.StatusUnauthorized, "bad_credentials", "the user name is no site's server key")
		return "", false
	}
	if q := c.Query("site"); q != "" && q != site {
		refuse(http.StatusForbidden, "site_mismatch", "site is not the site of the server key")
		return "", false
	}
	return site, true
}

type metrics struct {
	accepted   prometheus.Counter
	duplicates prometheus.Counter
	refused    *prometheus.CounterVec
	// unpublished counts stored reviews Kafka did not take; the
	// moderator's sweep decides them.
	unpublished prometheus.Counter
	reads       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_reviews_accepted_total", Help: "Reviews stored as pending for the moderator.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_reviews_duplicates_total", Help: "Reviews posted again with an id the site already holds; answered with the stored review.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_reviews_refused_total", Help: "Review posts and reads refused, by reason.",
		}, []string{"reason"}),
		unpublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_reviews_publish_failed_total", Help: "Stored reviews Kafka did not take in time; the moderator's sweep of old pending reviews decides them.",
		}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_reviews_reads_total", Help: "Review reads by outcome: ok, error.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.accepted, m.duplicates, m.refused, m.unpublished, m.reads)
	return m
}
