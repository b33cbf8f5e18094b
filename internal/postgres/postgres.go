// Package postgres opens Footfall's PostgreSQL pool from configuration.
package postgres

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Config says where PostgreSQL is. The URL may carry a password; it comes
// from the environment (FOOTFALL_POSTGRES_URL), never from the repository.
type Config struct {
	URL      string
	MaxConns int
}

// DefaultConfig matches the local services of deploy/local.
func DefaultConfig() Config {
	return Config{URL: "postgres://footfall@127.0.0.1:5432/footfall?sslmode=disable", MaxConns: 10}
}

// RegisterFlags binds c to fs under the postgres- prefix.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.URL, "postgres-url", c.URL, "PostgreSQL connection URL")
	fs.IntVar(&c.MaxConns, "postgres-max-conns", c.MaxConns, "largest PostgreSQL pool size")
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("postgres-url is empty")
	}
	if c.MaxConns < 1 {
		return errors.New("postgres-max-conns must be at least 1")
	}
	return nil
}

// Open connects a pool and checks it answers.
func Open(ctx context.Context, c Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(c.URL)
	if err != nil {
		return nil, fmt.Errorf("parse postgres-url: %w", err)
	}
	pc.MaxConns = int32(c.MaxConns)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open postgres pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping postgres at %s:%d: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, err)
	}
	return pool, nil
}
