package privacy

import (
	"errors"
	"flag"

	"github.com/footfall/footfall/internal/app"
)

// Module is the forget API's entry in footfall's registry.
func Module() app.Module {
	return app.Module{
		Name:    "privacy",
		Summary: "forget API: POST /v1/forget deletes a visitor everywhere and suppresses their later events",
		Port:    8088,
		Needs:   []app.Need{app.Kafka, app.Postgres, app.ClickHouse},
		Setup: func(fs *flag.FlagSet) app.Builder {
			cfg := DefaultConfig()
			cfg.RegisterFlags(fs)
			return func(d *app.Deps) (app.Service, error) {
				if err := cfg.Validate(); err != nil {
					return nil, err
				}
				pool, err := d.Postgres()
				if err != nil {
					return nil, err
				}
				ch, err := d.ClickHouse()
				if err != nil {
					return nil, err
				}
				pub, err := d.Producer()
				if err != nil {
					return nil, err
				}
				sup := Follow(d.Kafka, d.Log)
				if err := d.Closer("suppressions", sup.Close); err != nil {
					return nil, errors.Join(err, sup.Close())
				}
				d.Ops.AddCheck("suppressions", sup.Ready)
				f := New(cfg.Options, Deps{Kafka: d.Kafka, Publisher: pub, Pool: pool, ClickHouse: ch, Suppressions: sup, Log: d.Log})
				return NewAPI(cfg, APIDeps{Forgetter: f, Pool: pool, Ops: d.Ops, Log: d.Log})
			}
		},
	}
}
