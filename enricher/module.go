package enricher

import (
	"errors"
	"flag"

	"github.com/footfall/footfall/internal/app"
	"github.com/footfall/footfall/privacy"
)

// Module is the enricher's entry in footfall's registry.
func Module() app.Module {
	return app.Module{
		Name:    "enricher",
		Summary: "consumer group: searches, clicks and product views to user promotions in PostgreSQL",
		Port:    8082,
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
				sup := privacy.Follow(d.Kafka, d.Log)
				if err := d.Closer("suppressions", sup.Close); err != nil {
					return nil, errors.Join(err, sup.Close())
				}
				d.Ops.AddCheck("suppressions", sup.Ready)
				return New(cfg, Deps{Kafka: d.Kafka, Pool: pool, DeadLetters: pub, Updates: pub, Ops: d.Ops, Log: d.Log, Grace: d.Grace, Suppressions: sup})
			}
		},
	}
}
