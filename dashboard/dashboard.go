package dashboard

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/server"
)

// Deps are what the dashboard is given.
type Deps struct {
	ClickHouse *clickhouse.Client
	Ops        *server.Ops
	Log        *slog.Logger
	// Page holds the dashboard page's files, index.html at its root; nil
	// serves a placeholder.
	Page fs.FS
}

// Dashboard serves the Stats API and the page.
type Dashboard struct {
	cfg    Config
	deps   Deps
	tel    *telemetry
	levels *levelCache
	now    func() time.Time
	engine *gin.Engine
}

// New builds the dashboard.
func New(cfg Config, d Deps) (*Dashboard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(gin.Recovery())
	db := &Dashboard{cfg: cfg, deps: d, tel: newTelemetry(d.Ops.Registry()), levels: newLevelCache(), now: time.Now, engine: e}

	api := e.Group("/api/v1", cors)
	api.OPTIONS("/*path", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	stats := api.Group("/stats")
	stats.GET("/realtime/visitors", db.endpoint("realtime", db.realtime))
	stats.GET("/aggregate", db.endpoint("aggregate", db.aggregate))
	stats.GET("/timeseries", db.endpoint("timeseries", db.timeseries))
	stats.GET("/breakdown", db.endpoint("breakdown", db.breakdown))
	stats.GET("/funnel", db.endpoint("funnel", db.funnel))
	stats.GET("/retention", db.endpoint("retention", db.retention))
	stats.GET("/logs", db.endpoint("logs", db.logs))

	page := pageHandler(d.Page)
	e.NoRoute(func(c *gin.Context) {
		if strings.HasPrefix(c.Request.URL.Path, "/api/") {
			cors(c)
			c.JSON(http.StatusNotFound, gin.H{"error": "Not found. The Stats API's endpoints are listed in " + docsPage + "."})
			return
		}
		if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
			c.Status(http.StatusMethodNotAllowed)
			return
		}
		page.ServeHTTP(c.Writer, c.Request)
	})
	return db, nil
}

// cors lets scripts on any origin read the Stats API, as Plausible's is
// used. The key travels in the Authorization header, never in cookies, so
// credentials are not allowed.
func cors(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "86400")
}

// Handler serves the API and the page; the process serves it beside the
// operational endpoints.
func (db *Dashboard) Handler() http.Handler { return db.engine }

// Run has nothing to do beside the handler.
func (db *Dashboard) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
