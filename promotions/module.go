package promotions

import (
	"flag"

	"github.com/footfall/footfall/internal/app"
)

// Module is the promotions API's entry in footfall's registry.
func Module() app.Module {
	return app.Module{
		Name:    "promotions",
		Summary: "HTTP API: GET /v1/promotions?site=&user=[&user_hash=], live: /v1/promotions/stream (SSE), /v1/promotions/ws",
		Port:    8081,
		Needs:   []app.Need{app.Kafka, app.Postgres},
		Setup: func(fs *flag.FlagSet) app.Builder {
			cfg := DefaultConfig()
			cfg.RegisterFlags(fs)
			return func(d *app.Deps) (app.Service, error) {
				pool, err := d.Postgres()
				if err != nil {
					return nil, err
				}
				return NewLive(cfg, Deps{Pool: pool, Kafka: d.Kafka, Ops: d.Ops, Log: d.Log})
			}
		},
	}
}
