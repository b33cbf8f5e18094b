package dashboard

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/server"
)

// Deps are what the dashboard is given.
type Deps struct {
	ClickHouse *clickhouse.Client
	Ops        *server.Ops
	Log        *slog.Logger
}

// Dashboard serves the Stats API and the page.
type Dashboard struct {
	cfg    Config
	deps   Deps
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
	db := &Dashboard{cfg: cfg, deps: d, engine: e}
	return db, nil
}

// Handler serves the API and the page; the process serves it beside the
// operational endpoints.
func (db *Dashboard) Handler() http.Handler { return db.engine }

// Run has nothing to do beside the handler.
func (db *Dashboard) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
