package alerts

import (
	"flag"

	"github.com/footfall/footfall/internal/app"
)

// Module is the alerts worker's entry in footfall's registry.
func Module() app.Module {
	return app.Module{
		Name:    "alerts",
		Summary: "consumer group: log records against alert rules in PostgreSQL; notifies webhooks (Alertmanager format)",
		Port:    8085,
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
				return New(cfg, Deps{Kafka: d.Kafka, Pool: pool, DeadLetters: pub, Ops: d.Ops, Log: d.Log, Grace: d.Grace})
			}
		},
	}
}
