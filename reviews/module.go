package reviews

import (
	"flag"

	"github.com/footfall/footfall/internal/app"
)

// Module is the reviews API's entry in footfall's registry.
func Module() app.Module {
	return app.Module{
		Name:    "reviews",
		Summary: "HTTP API: POST /v1/reviews (pending, to the moderator through Kafka), GET /v1/reviews?site=&product=&viewer=",
		Port:    8086,
		Needs:   []app.Need{app.Kafka, app.Postgres},
		Setup: func(fs *flag.FlagSet) app.Builder {
			cfg := DefaultConfig()
			cfg.RegisterFlags(fs)
			return func(d *app.Deps) (app.Service, error) {
				pool, err := d.Postgres()
				if err != nil {
					return nil, err
				}
				pub, err := d.Producer()
				if err != nil {
					return nil, err
				}
				return New(cfg, Deps{Pool: pool, Publisher: pub, TopicPrefix: d.Kafka.TopicPrefix, Ops: d.Ops, Log: d.Log})
			}
		},
	}
}
