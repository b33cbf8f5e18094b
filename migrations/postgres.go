package migrations

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrateLock is the advisory lock that keeps two migrate runs from
// applying the same file at once.
const migrateLock = 0x666f6f74 // "foot"

// ApplyPostgres applies the PostgreSQL migrations not yet recorded in
// schema_migrations and returns how many it applied.
func ApplyPostgres(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (int, error) {
	all, err := load("postgres")
	if err != nil {
		return 0, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLock); err != nil {
		return 0, fmt.Errorf("take migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLock) //nolint:errcheck // the session ends with the connection anyway

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return 0, fmt.Errorf("read schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return 0, fmt.Errorf("read schema_migrations: %w", err)
	}
	for _, v := range versions {
		applied[v] = true
	}
	n := 0
	for _, m := range all {
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("apply postgres migration %s: %w", m.Name, err)
		}
		log.Info("applied migration", "db", "postgres", "migration", m.Name)
		n++
	}
	return n, nil
}

// SeedDemo loads the demo shop's catalog. It is separate from migrate: a
// real deployment has its own catalog.
func SeedDemo(ctx context.Context, pool *pgxpool.Pool) error {
	b, err := files.ReadFile("seed/demo.sql")
	if err != nil {
		return fmt.Errorf("read demo seed: %w", err)
	}
	if _, err := pool.Exec(ctx, string(b)); err != nil {
		return fmt.Errorf("load demo seed: %w", err)
	}
	return nil
}
