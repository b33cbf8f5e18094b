package dashboard

import (
	"flag"

	"github.com/footfall/footfall/dashboard/web"
	"github.com/footfall/footfall/internal/app"
)

// Module is the dashboard's entry in footfall's registry.
func Module() app.Module {
	return app.Module{
		Name:    "dashboard",
		Summary: "reports: the dashboard page and a Stats API compatible with Plausible's, on ClickHouse",
		Port:    8084,
		Needs:   []app.Need{app.ClickHouse},
		Setup: func(fs *flag.FlagSet) app.Builder {
			cfg := DefaultConfig()
			cfg.RegisterFlags(fs)
			return func(d *app.Deps) (app.Service, error) {
				client, err := d.ClickHouse()
				if err != nil {
					return nil, err
				}
				return New(cfg, Deps{ClickHouse: client, Ops: d.Ops, Log: d.Log, Page: web.Assets})
			}
		},
	}
}
