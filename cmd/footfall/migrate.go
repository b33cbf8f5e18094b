package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/postgres"
	"github.com/footfall/footfall/migrations"
)

func setupMigrate(fs *flag.FlagSet) func(context.Context, *slog.Logger) error {
	kc, pg, ch := kafka.DefaultConfig(), postgres.DefaultConfig(), clickhouse.DefaultConfig()
	kc.RegisterFlags(fs)
	pg.RegisterFlags(fs)
	ch.RegisterFlags(fs)
	return func(ctx context.Context, log *slog.Logger) error {
		log = log.With("component", "migrate")
		for _, validate := range []func() error{kc.Validate, pg.Validate, ch.Validate} {
			if err := validate(); err != nil {
				return err
			}
		}
		if err := migratePostgres(ctx, pg, log); err != nil {
			return err
		}
		if err := migrateClickHouse(ctx, ch, log); err != nil {
			return err
		}
		if err := kafka.EnsureTopics(kc, log, event.AllTopics(kc.TopicPrefix)); err != nil {
			return err
		}
		// The latest record of an id is what counts: compaction keeps it,
		// whatever the topic's retention (docs/privacy.md).
		return kafka.SetTopicConfig(kc, event.SuppressionsTopic(kc.TopicPrefix), map[string]string{"cleanup.policy": "compact"})
	}
}

func migratePostgres(ctx context.Context, c postgres.Config, log *slog.Logger) error {
	pool, err := postgres.Open(ctx, c)
	if err != nil {
		return err
	}
	defer pool.Close()
	n, err := migrations.ApplyPostgres(ctx, pool, log)
	if err != nil {
		return err
	}
	log.Info("postgres is up to date", "applied", n)
	return nil
}

func migrateClickHouse(ctx context.Context, c clickhouse.Config, log *slog.Logger) error {
	root, err := clickhouse.Open(ctx, c, "default")
	if err != nil {
		return err
	}
	if c.Cluster != "" {
		err = migrations.CreateClickHouseDatabaseOnCluster(ctx, root, c.Database, c.Cluster)
	} else {
		err = migrations.CreateClickHouseDatabase(ctx, root, c.Database)
	}
	if cerr := root.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close clickhouse: %w", cerr)
	}
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(ctx, c, c.Database)
	if err != nil {
		return err
	}
	apply := migrations.ApplyClickHouse
	if c.Cluster != "" {
		apply = func(ctx context.Context, conn driver.Conn, log *slog.Logger) (int, error) {
			return migrations.ApplyClickHouseCluster(ctx, conn, c.Database, c.Cluster, log)
		}
	}
	n, err := apply(ctx, conn, log)
	if cerr := conn.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close clickhouse: %w", cerr)
	}
	if err != nil {
		return err
	}
	log.Info("clickhouse is up to date", "applied", n, "cluster", c.Cluster)
	return nil
}

func setupSeedDemo(fs *flag.FlagSet) func(context.Context, *slog.Logger) error {
	pg := postgres.DefaultConfig()
	pg.RegisterFlags(fs)
	return func(ctx context.Context, log *slog.Logger) error {
		if err := pg.Validate(); err != nil {
			return err
		}
		pool, err := postgres.Open(ctx, pg)
		if err != nil {
			return err
		}
		defer pool.Close()
		if err := migrations.SeedDemo(ctx, pool); err != nil {
			return err
		}
		log.Info("demo catalog loaded", "site", "demo")
		return nil
	}
}
