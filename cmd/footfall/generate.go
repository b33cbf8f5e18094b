package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/generate"
	"github.com/footfall/footfall/loader"
)

// benchDatabase is generate's default database: benchmark data has no
// place in the pipeline's own.
const benchDatabase = "footfall_bench"

// setupGenerate wires `footfall generate`: realistic events for one site,
// written straight into ClickHouse through the loader's sink (no Kafka),
// so visits and rollups are built as in production.
func setupGenerate(fs *flag.FlagSet) func(context.Context, *slog.Logger) error {
	gc, ch := generate.DefaultConfig(), clickhouse.DefaultConfig()
	ch.Database = benchDatabase
	gc.RegisterFlags(fs)
	ch.RegisterFlags(fs)
	return func(ctx context.Context, log *slog.Logger) error {
		log = log.With("component", "generate")
		for _, validate := range []func() error{gc.Validate, ch.Validate} {
			if err := validate(); err != nil {
				return err
			}
		}
		if err := migrateClickHouse(ctx, ch, log); err != nil {
			return err
		}
		client := clickhouse.NewClient(ch, ch.Database)
		sum, err := generate.Run(ctx, gc, loader.NewClickHouse(client), log)
		if cerr := client.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close clickhouse: %w", cerr))
		}
		if err != nil {
			return err
		}
		log.Info("generated", "database", ch.Database, "site", gc.Site, "events", sum.Events, "batches", sum.Batches,
			"from", sum.From.Format(time.RFC3339), "to", sum.To.Format(time.RFC3339),
			"elapsed", sum.Elapsed.Round(time.Second).String(), "events_per_second", int(sum.PerSecond()))
		return nil
	}
}
