// Package postgres opens Footfall's PostgreSQL pool from configuration.
package postgres

import (
	"context"
	"flag"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/config"
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
		return config.Invalid("postgres-url", `""`, "a URL such as postgres://user@host:5432/db")
	}
	if _, err := pgxpool.ParseConfig(c.URL); err != nil {
		return config.Invalid("postgres-url", "…", "a valid connection URL ("+err.Error()+")")
	}
	if c.MaxConns < 1 {
		return config.Invalid("postgres-max-conns", c.MaxConns, "at least 1")
	}
	return nil
}

// Connect returns a pool that dials on demand: it does not wait for
// PostgreSQL, so a service can start before its database does.
func Connect(c Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(c.URL)
	if err != nil {
		return nil, fmt.Errorf("parse postgres-url: %w", err)
	}
	pc.MaxConns = int32(c.MaxConns)
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("open postgres pool: %w", err)
	}
	return pool, nil
}

// Open connects a pool and checks it answers: for commands that cannot
// proceed without the database (migrate).
func Open(ctx context.Context, c Config) (*pgxpool.Pool, error) {
	pool, err := Connect(c)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		cc := pool.Config().ConnConfig
		pool.Close()
		return nil, fmt.Errorf("ping postgres at %s:%d: %w", cc.Host, cc.Port, err)
	}
	return pool, nil
}
