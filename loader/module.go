package loader

import (
	"errors"
	"flag"

	"github.com/footfall/footfall/internal/app"
	"github.com/footfall/footfall/privacy"
)

// Module is the loader's entry in footfall's registry.
func Module() app.Module {
	return app.Module{
		Name:    "loader",
		Summary: "consumer group: every event and log record into ClickHouse",
		Port:    8083,
		Needs:   []app.Need{app.Kafka, app.ClickHouse},
		Setup: func(fs *flag.FlagSet) app.Builder {
			cfg := DefaultConfig()
			cfg.RegisterFlags(fs)
			return func(d *app.Deps) (app.Service, error) {
				client, err := d.ClickHouse()
				if err != nil {
					return nil, err
				}
				pub, err := d.Producer()
				if err != nil {
					return nil, err
				}
				sink := NewClickHouse(client)
				sup := privacy.Follow(d.Kafka, d.Log)
				if err := d.Closer("suppressions", sup.Close); err != nil {
					return nil, errors.Join(err, sup.Close())
				}
				d.Ops.AddCheck("suppressions", sup.Ready)
				return New(cfg, Deps{Kafka: d.Kafka, Sink: sink, Logs: sink, DeadLetters: pub, Ops: d.Ops, Log: d.Log, Grace: d.Grace, Suppressions: sup})
			}
		},
	}
}
