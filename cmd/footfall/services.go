package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/footfall/footfall/collector"
	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/postgres"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/loader"
	"github.com/footfall/footfall/promotions"
	sdkjs "github.com/footfall/footfall/sdk-js"
)

// runner starts one service; the returned func runs it until ctx ends and
// then releases what it opened, in that order.
type runner func(ctx context.Context, log *slog.Logger) error

// shared flags are registered once even when `all` runs every service.
type shared struct {
	kafka kafka.Config
	pg    postgres.Config
	ch    clickhouse.Config
}

func newShared(fs *flag.FlagSet, kafkaFlags, pgFlags, chFlags bool) *shared {
	s := &shared{kafka: kafka.DefaultConfig(), pg: postgres.DefaultConfig(), ch: clickhouse.DefaultConfig()}
	if kafkaFlags {
		s.kafka.RegisterFlags(fs)
	}
	if pgFlags {
		s.pg.RegisterFlags(fs)
	}
	if chFlags {
		s.ch.RegisterFlags(fs)
	}
	return s
}

func setupCollector(fs *flag.FlagSet) func(context.Context, *slog.Logger) error {
	s := newShared(fs, true, false, false)
	return collectorRunner(fs, s)
}

func collectorRunner(fs *flag.FlagSet, s *shared) runner {
	cfg := collector.DefaultConfig()
	cfg.RegisterFlags(fs)
	return func(ctx context.Context, log *slog.Logger) error {
		log = log.With("component", "collector")
		if err := s.kafka.Validate(); err != nil {
			return err
		}
		cfg.TopicPrefix = s.kafka.TopicPrefix
		producer, err := kafka.NewProducer(s.kafka, "footfall-collector")
		if err != nil {
			return err
		}
		c, err := collector.New(cfg, collector.Deps{
			Producer: producer, Ops: server.NewOps(), Log: log, Beacon: sdkjs.Beacon, Demo: sdkjs.Demo,
		})
		if err != nil {
			_ = producer.Close()
			return err
		}
		runErr := c.Run(ctx, nil)
		if err := producer.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("close producer: %w", err)
		}
		return runErr
	}
}

func setupEnricher(fs *flag.FlagSet) func(context.Context, *slog.Logger) error {
	return enricherRunner(fs, newShared(fs, true, true, false))
}

func enricherRunner(fs *flag.FlagSet, s *shared) runner {
	cfg := enricher.DefaultConfig()
	cfg.RegisterFlags(fs)
	return func(ctx context.Context, log *slog.Logger) error {
		log = log.With("component", "enricher")
		if err := validate(s.kafka.Validate, s.pg.Validate); err != nil {
			return err
		}
		pool, err := postgres.Open(ctx, s.pg)
		if err != nil {
			return err
		}
		defer pool.Close()
		e, err := enricher.New(cfg, s.kafka, pool, server.NewOps(), log)
		if err != nil {
			return err
		}
		return e.Run(ctx, nil)
	}
}

func setupLoader(fs *flag.FlagSet) func(context.Context, *slog.Logger) error {
	return loaderRunner(fs, newShared(fs, true, false, true))
}

func loaderRunner(fs *flag.FlagSet, s *shared) runner {
	cfg := loader.DefaultConfig()
	cfg.RegisterFlags(fs)
	return func(ctx context.Context, log *slog.Logger) error {
		log = log.With("component", "loader")
		if err := validate(s.kafka.Validate, s.ch.Validate); err != nil {
			return err
		}
		conn, err := clickhouse.Open(ctx, s.ch, s.ch.Database)
		if err != nil {
			return err
		}
		ops := server.NewOps()
		ops.AddCheck("clickhouse", conn.Ping)
		l, err := loader.New(cfg, s.kafka, loader.NewClickHouse(conn), ops, log)
		if err != nil {
			_ = conn.Close()
			return err
		}
		runErr := l.Run(ctx, nil)
		if err := conn.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("close clickhouse: %w", err)
		}
		return runErr
	}
}

func setupPromotions(fs *flag.FlagSet) func(context.Context, *slog.Logger) error {
	return promotionsRunner(fs, newShared(fs, false, true, false))
}

func promotionsRunner(fs *flag.FlagSet, s *shared) runner {
	cfg := promotions.DefaultConfig()
	cfg.RegisterFlags(fs)
	return func(ctx context.Context, log *slog.Logger) error {
		log = log.With("component", "promotions")
		if err := s.pg.Validate(); err != nil {
			return err
		}
		pool, err := postgres.Open(ctx, s.pg)
		if err != nil {
			return err
		}
		defer pool.Close()
		a, err := promotions.New(cfg, pool, server.NewOps(), log)
		if err != nil {
			return err
		}
		return a.Run(ctx, nil)
	}
}

// setupAll runs the four services in one process: each keeps its own port,
// registry and shutdown; the first to fail stops the others.
func setupAll(fs *flag.FlagSet) func(context.Context, *slog.Logger) error {
	s := newShared(fs, true, true, true)
	runners := []runner{collectorRunner(fs, s), enricherRunner(fs, s), loaderRunner(fs, s), promotionsRunner(fs, s)}
	return func(ctx context.Context, log *slog.Logger) error {
		g, gctx := errgroup.WithContext(ctx)
		for _, r := range runners {
			g.Go(func() error { return r(gctx, log) })
		}
		return g.Wait()
	}
}

func validate(checks ...func() error) error {
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}
