package migrations_test

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/migrations"
)

// versionsOnDisk lists the migration versions of dir (postgres or
// clickhouse) from the source tree, independently of the embedding.
func versionsOnDisk(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			t.Fatalf("%s/%s is not NNNN_what.sql", dir, e.Name())
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Fatalf("no migrations in %s", dir)
	}
	slices.Sort(out)
	return out
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestIntegrationPostgresMigrations applies the PostgreSQL migrations to an
// empty database twice, the first time from two migrate runs at once as two
// replicas starting together would: every file applies exactly once.
func TestIntegrationPostgresMigrations(t *testing.T) {
	pool := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	want := versionsOnDisk(t, "postgres")
	// testenv migrated the database; start again from empty.
	if _, err := pool.Exec(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	applied, errs := make([]int, 2), make([]error, 2)
	for i := range applied {
		wg.Go(func() { applied[i], errs[i] = migrations.ApplyPostgres(ctx, pool, quiet()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	if applied[0]+applied[1] != len(want) {
		t.Errorf("concurrent runs applied %d and %d, want %d in all", applied[0], applied[1], len(want))
	}

	n, err := migrations.ApplyPostgres(ctx, pool, quiet())
	if err != nil || n != 0 {
		t.Errorf("second migrate applied %d (%v), want 0", n, err)
	}
	rows, err := pool.Query(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("schema_migrations holds %v, want %v", got, want)
	}
	for _, table := range []string{"promotions", "user_promotions", "identities", "known_users", "consumer_offsets", "processed_events"} {
		var exists bool
		if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil || !exists {
			t.Errorf("table %s missing after migrate (%v)", table, err)
		}
	}
}

// TestIntegrationClickHouseMigrations applies the ClickHouse migrations to
// an empty database twice, then again after the record of them is lost:
// ClickHouse has no DDL transactions, so a half-applied run must be safe
// to repeat.
func TestIntegrationClickHouseMigrations(t *testing.T) {
	_, conn := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	want := versionsOnDisk(t, "clickhouse")
	dropAll := func(filter string) {
		t.Helper()
		rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase()"+filter)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, name)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		for _, name := range tables {
			if err := conn.Exec(ctx, "DROP TABLE `"+name+"`"); err != nil {
				t.Fatal(err)
			}
		}
	}
	recorded := func() ([]int, uint64) {
		t.Helper()
		rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations ORDER BY version")
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for rows.Next() {
			var v uint32
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, int(v))
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		var events uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'events'").Scan(&events); err != nil {
			t.Fatal(err)
		}
		return out, events
	}

	dropAll("") // testenv migrated the database; start again from empty.
	for run, wantApplied := range []int{len(want), 0} {
		n, err := migrations.ApplyClickHouse(ctx, conn, quiet())
		if err != nil || n != wantApplied {
			t.Fatalf("run %d applied %d (%v), want %d", run+1, n, err, wantApplied)
		}
		// Every row, not DISTINCT: a second run must not record a file again.
		if got, events := recorded(); !slices.Equal(got, want) || events != 1 {
			t.Fatalf("after run %d schema_migrations holds %v (want %v), events tables: %d", run+1, got, want, events)
		}
	}

	dropAll(" AND name = 'schema_migrations'")
	if n, err := migrations.ApplyClickHouse(ctx, conn, quiet()); err != nil || n != len(want) {
		t.Fatalf("re-running migrations over existing tables applied %d (%v), want %d", n, err, len(want))
	}
	if got, _ := recorded(); !slices.Equal(got, want) {
		t.Errorf("schema_migrations holds %v, want %v", got, want)
	}
}

// TestIntegrationSeedDemo loads the demo catalog twice: the same rows, the
// humidifier deals the demo is about, and edits undone, while the scores
// visitors earned on it are kept.
func TestIntegrationSeedDemo(t *testing.T) {
	pool := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	count := func() (all, defaults, humidifier int) {
		t.Helper()
		err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE is_default),
			count(*) FILTER (WHERE 'humidifier' = ANY(keywords) AND title ILIKE '%humidifier%' AND NOT is_default)
			FROM promotions WHERE site_id = 'demo'`).Scan(&all, &defaults, &humidifier)
		if err != nil {
			t.Fatal(err)
		}
		return all, defaults, humidifier
	}

	if err := migrations.SeedDemo(ctx, pool); err != nil {
		t.Fatal(err)
	}
	all, defaults, humidifier := count()
	if all == 0 || defaults == 0 || humidifier == 0 {
		t.Fatalf("demo catalog: %d promotions, %d defaults, %d for humidifier searches", all, defaults, humidifier)
	}
	var id, title string
	if err := pool.QueryRow(ctx, `SELECT id, title FROM promotions WHERE site_id = 'demo' AND 'humidifier' = ANY(keywords) ORDER BY priority DESC, id LIMIT 1`).Scan(&id, &title); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO user_promotions (site_id, user_key, promotion_id, score, reason, last_event_at, expires_at)
		VALUES ('demo', 'anon-1', $1, 3, 'search:humidifier', now(), now() + interval '1 day')`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE promotions SET title = 'edited', ends_at = now() WHERE site_id = 'demo' AND id = $1`, id); err != nil {
		t.Fatal(err)
	}

	if err := migrations.SeedDemo(ctx, pool); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	if a, d, h := count(); a != all || d != defaults || h != humidifier {
		t.Errorf("second seed: %d/%d/%d promotions/defaults/humidifier, first %d/%d/%d", a, d, h, all, defaults, humidifier)
	}
	var gotTitle string
	var ended bool
	if err := pool.QueryRow(ctx, `SELECT title, ends_at IS NOT NULL FROM promotions WHERE site_id = 'demo' AND id = $1`, id).Scan(&gotTitle, &ended); err != nil {
		t.Fatal(err)
	}
	if gotTitle != title || ended {
		t.Errorf("reseed left %s as %q (ended %v), want %q and live", id, gotTitle, ended, title)
	}
	var scores int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM user_promotions WHERE site_id = 'demo'`).Scan(&scores); err != nil || scores != 1 {
		t.Errorf("reseed left %d user_promotions rows (%v), want the 1 earned", scores, err)
	}
}
