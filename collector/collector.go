package collector

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/footfall/footfall/collector/spool"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/segment"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/useragent"
)

// Deps are what the collector is given rather than builds.
type Deps struct {
	Publisher kafka.Publisher
	// Spool holds the batches Kafka does not acknowledge in time; nil
	// answers them 503. Whoever opened it closes it, after the listener
	// has finished its requests.
	Spool  *spool.Spool
	Ops    *server.Ops
	Log    *slog.Logger
	Beacon []byte // the built footfall.js
	Demo   fs.FS  // the demo shop's files; nil disables /demo/
	// Suppressions drops the events of forgotten visitors (suppress.go);
	// nil drops none.
	Suppressions Suppressor
}

// Collector serves POST /v1/batch, the beacon and the demo shop.
type Collector struct {
	cfg     Config
	deps    Deps
	m       *metrics
	refused *refusals // batches neither Kafka nor the spool took (spooling.go)
	engine  *gin.Engine
	agents  *useragent.Cache // parsed User-Agent headers, recent ones remembered
	limiter *rateLimiter     // per address and per site (ratelimit.go)
	logs    *logMetrics      // POST /v1/logs (logs.go)
}

// New builds a Collector; Run serves it.
func New(cfg Config, deps Deps) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Collector{cfg: cfg, deps: deps, m: newMetrics(deps.Ops.Registry()), refused: newRefusals(deps.Ops.Registry())}
	c.logs = newLogMetrics(deps.Ops.Registry())
	c.agents = useragent.NewCache(useragent.DefaultCacheSize)
	c.limiter = newRateLimiter(cfg.Rate, cfg.MaxEvents, deps.Ops.Registry())
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(gin.Recovery())
	if err := e.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	e.ContextWithFallback = true
	batch := e.Group("/v1", cors, c.limitIP)
	batch.POST("/batch", c.serveBatch)
	batch.OPTIONS("/batch", func(ctx *gin.Context) { ctx.Status(http.StatusNoContent) })
	// Segment's HTTP Tracking API, one message a call (its /v1/batch is
	// served by serveBatch).
	for _, kind := range segment.Kinds() {
		batch.POST("/"+string(kind), c.serveSegmentCall(kind))
		batch.OPTIONS("/"+string(kind), func(ctx *gin.Context) { ctx.Status(http.StatusNoContent) })
	}
	// OTLP/HTTP JSON logs and JSON lines, server keys only (logs.go).
	e.POST("/v1/logs", c.limitIP, c.serveLogs)
	e.GET("/footfall.js", c.serveBeacon)
	if cfg.DemoSite != "" && deps.Demo != nil {
		files := http.StripPrefix("/demo", http.FileServerFS(deps.Demo))
		e.GET("/demo/*path", func(ctx *gin.Context) {
			if ctx.Param("path") == "/config.json" {
				c.serveDemoConfig(ctx)
				return
			}
			files.ServeHTTP(ctx.Writer, ctx.Request)
		})
		e.GET("/", func(ctx *gin.Context) { ctx.Redirect(http.StatusFound, "/demo/") })
	}
	c.engine = e
	return c, nil
}

// Handler serves the intake, the beacon and the demo shop; the process
// serves it beside the operational endpoints.
func (c *Collector) Handler() http.Handler { return c.engine }

// Run forwards what the spool holds to Kafka, in order, until ctx ends;
// without a spool it has nothing to do beside the handler. Either way the
// process stops the listener (requests in flight finish) after Run has
// returned and before it closes the spool, then the producer.
func (c *Collector) Run(ctx context.Context) error {
	if c.deps.Spool == nil {
		<-ctx.Done()
		return nil
	}
	return c.deps.Spool.Run(ctx, c.deps.Publisher)
}

// cors lets any shop's pages post events. Credentials are never allowed:
// the beacon sends none, and the collector reads no cookies. Retry-After is
// exposed so that the beacon on the shop's origin can honour it. A site's
// allowed origins are checked per batch (authenticate), once the write key
// says which site it is for; a preflight names no site, so it is answered
// for any origin, and a refusal stays readable. Authorization is not an
// allowed header: server keys are for servers, never for a page.
func cors(ctx *gin.Context) {
	h := ctx.Writer.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Retry-After")
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding")
	h.Set("Access-Control-Max-Age", "86400")
}

func (c *Collector) serveBeacon(ctx *gin.Context) {
	ctx.Header("Cache-Control", "public, max-age=3600")
	ctx.Header("Access-Control-Allow-Origin", "*")
	ctx.Data(http.StatusOK, "application/javascript; charset=utf-8", c.deps.Beacon)
}

func (c *Collector) serveDemoConfig(ctx *gin.Context) {
	ctx.Header("Cache-Control", "no-store")
	ctx.JSON(http.StatusOK, gin.H{
		"site":           c.cfg.Sites.KeyOf(c.cfg.DemoSite),
		"site_id":        c.cfg.DemoSite,
		"promotions_url": c.cfg.PromotionsURL,
	})
}
