package migrations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/clickhouse"
)

// ApplyClickHouse applies the ClickHouse migrations not yet recorded in
// schema_migrations of the connection's database and returns how many it
// applied. The database itself must exist (CreateClickHouseDatabase).
func ApplyClickHouse(ctx context.Context, conn driver.Conn, log *slog.Logger) (int, error) {
	return applyClickHouse(ctx, conn, "clickhouse", func(sql string) string { return sql }, log)
}

// ApplyClickHouseCluster applies the cluster schema (migrations/
// clickhouse-cluster: replicated tables under Distributed ones, created
// ON CLUSTER) to database db of cluster, through conn, a connection to
// one of its servers, and returns how many files it applied. What was
// applied is recorded in that server's schema_migrations; every statement
// is idempotent, so a run through another server applies them again
// harmlessly. The database must exist on every server
// (CreateClickHouseDatabaseOnCluster).
func ApplyClickHouseCluster(ctx context.Context, conn driver.Conn, db, cluster string, log *slog.Logger) (int, error) {
	expand := strings.NewReplacer("${database}", clickhouse.QuoteIdent(db), "${cluster}", clickhouse.QuoteIdent(cluster)).Replace
	return applyClickHouse(ctx, conn, "clickhouse-cluster", expand, log)
}

func applyClickHouse(ctx context.Context, conn driver.Conn, dir string, expand func(string) string, log *slog.Logger) (int, error) {
	all, err := load(dir)
	if err != nil {
		return 0, err
	}
	if err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version UInt32, name String, applied_at DateTime DEFAULT now()
	) ENGINE = ReplacingMergeTree ORDER BY version`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[uint32]bool{}
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM schema_migrations")
	if err != nil {
		return 0, fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return 0, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("read schema_migrations: %w", err)
	}
	n := 0
	for _, m := range all {
		if applied[uint32(m.Version)] {
			continue
		}
		for _, stmt := range statements(expand(m.SQL)) {
			if err := conn.Exec(ctx, stmt); err != nil && !columnExists(stmt, err) {
				return n, fmt.Errorf("apply clickhouse migration %s/%s: %w", dir, m.Name, err)
			}
		}
		if err := record(ctx, conn, uint32(m.Version), m.Name); err != nil {
			return n, fmt.Errorf("record clickhouse migration %s/%s: %w", dir, m.Name, err)
		}
		log.Info("applied migration", "db", "clickhouse", "dir", dir, "migration", m.Name)
		n++
	}
	return n, nil
}

// addColumn is a statement that adds one column to a table.
var addColumn = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\s+[^,]+$`)

// columnExists tells whether err is ClickHouse refusing stmt, which adds
// one column, because the column is there: ClickHouse 18.16 knows no ADD
// COLUMN IF NOT EXISTS, so a file that adds a column is run again this way
// when its record was lost (18.16 says ILLEGAL_COLUMN, current releases
// DUPLICATE_COLUMN).
func columnExists(stmt string, err error) bool {
	var code []string
	for _, line := range strings.Split(stmt, "\n") {
		if l := strings.TrimSpace(line); !strings.HasPrefix(l, "--") {
			code = append(code, l)
		}
	}
	var ex *ch.Exception
	return addColumn.MatchString(strings.TrimSpace(strings.Join(code, "\n"))) && errors.As(err, &ex) &&
		(ex.Code == 15 || ex.Code == 44) && strings.Contains(ex.Message, "already exists")
}

// record inserts one schema_migrations row as a native-protocol batch. An
// INSERT with inline VALUES sent through Exec hangs on ClickHouse 18.16: that
// server still waits for a data block after the query.
func record(ctx context.Context, conn driver.Conn, version uint32, name string) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name)")
	if err != nil {
		return err
	}
	if err := b.Append(version, name); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}

// CreateClickHouseDatabaseOnCluster creates db on every server of cluster.
func CreateClickHouseDatabaseOnCluster(ctx context.Context, conn driver.Conn, db, cluster string) error {
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+clickhouse.QuoteIdent(db)+" ON CLUSTER "+clickhouse.QuoteIdent(cluster)); err != nil {
		return fmt.Errorf("create clickhouse database %s on cluster %s: %w", db, cluster, err)
	}
	return nil
}

// CreateClickHouseDatabase creates db over a connection to another database.
func CreateClickHouseDatabase(ctx context.Context, conn driver.Conn, db string) error {
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+clickhouse.QuoteIdent(db)); err != nil {
		return fmt.Errorf("create clickhouse database %s: %w", db, err)
	}
	return nil
}
