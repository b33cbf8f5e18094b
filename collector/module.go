package collector

import (
	"errors"
	"flag"

	"github.com/footfall/footfall/internal/app"
	"github.com/footfall/footfall/privacy"
	sdkjs "github.com/footfall/footfall/sdk-js"
)

// Module is the collector's entry in footfall's registry.
func Module() app.Module {
	return app.Module{
		Name:    "collector",
		Summary: "HTTP intake: POST /v1/batch to Kafka; serves /footfall.js and the demo shop",
		Port:    8080,
		Needs:   []app.Need{app.Kafka},
		Setup: func(fs *flag.FlagSet) app.Builder {
			cfg := DefaultConfig()
			cfg.RegisterFlags(fs)
			return func(d *app.Deps) (app.Service, error) {
				pub, err := d.Producer()
				if err != nil {
					return nil, err
				}
				cfg.TopicPrefix = d.Kafka.TopicPrefix
				if err := cfg.Validate(); err != nil {
					return nil, err
				}
				sp, err := openSpool(cfg.Spool, d)
				if err != nil {
					return nil, err
				}
				sup := privacy.Follow(d.Kafka, d.Log)
				if err := d.Closer("suppressions", sup.Close); err != nil {
					return nil, errors.Join(err, sup.Close())
				}
				c, err := New(cfg, Deps{Publisher: pub, Spool: sp, Ops: d.Ops, Log: d.Log, Beacon: sdkjs.Beacon, Demo: sdkjs.Demo, Suppressions: sup})
				if err != nil {
					return nil, err
				}
				d.Ops.AddCheck("kafka", c.readiness(pub.Ready))
				return c, nil
			}
		},
	}
}
