package testenv

import (
	"context"
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Holding lists the string columns of the connected database's tables
// that hold one of ids, with how many rows: what a forget must leave
// empty. engines is a condition on system.tables' engine that picks the
// tables that store rows (not views; on a cluster, the replicated ones).
func Holding(t testing.TB, conn driver.Conn, engines string, ids []string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT c.table, c.name, c.type FROM system.columns AS c
		WHERE c.database = currentDatabase() AND c.type IN ('String', 'LowCardinality(String)', 'Array(String)')
		AND c.table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND `+engines+`)`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, column, typ string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.column, &c.typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	_ = rows.Close()
	if len(cols) < 20 {
		t.Fatalf("only %d string columns found in tables where %s", len(cols), engines)
	}
	var held []string
	for _, c := range cols {
		cond := "has(?, toString(`" + c.column + "`))"
		if c.typ == "Array(String)" {
			cond = "hasAny(`" + c.column + "`, ?)"
		}
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM `"+c.table+"` WHERE "+cond, ids).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			held = append(held, fmt.Sprintf("%s.%s: %d rows", c.table, c.column, n))
		}
	}
	return held
}

// Rollups lists a site's hourly figures, one line per hour, dimension,
// value and level, without the site id: two sites that saw the same
// visits list the same lines. Visits whose row changed leave groups with
// no visits (the old row's values): the live rollup counts a visitor
// there, a recomputed one after a merge does not. Only live groups
// compare.
func Rollups(t testing.TB, conn driver.Conn, site string) []string {
	t.Helper()
	queries := []string{
		`SELECT concat('events ', toString(hour), ' ', dimension, '=', value, ' lvl', toString(lvl), ': ',
			toString(countMerge(events)), ' events, ', toString(sumMerge(pageviews)), ' views, ',
			toString(sumMerge(zero_results)), ' zero, ', toString(uniqMerge(visitors)), ' visitors')
		FROM events_hourly WHERE site_id = ? GROUP BY hour, dimension, value, lvl ORDER BY hour, dimension, value, lvl`,
		`SELECT concat('visits ', toString(hour), ' ', dimension, '=', value, ' lvl', toString(lvl), ': ',
			toString(sumMerge(visits)), ' visits, ', toString(sumMerge(bounces)), ' bounces, ',
			toString(sumMerge(duration)), ' s, ', toString(sumMerge(pageviews)), ' views, ', toString(uniqIfMerge(visitors)), ' visitors')
		FROM sessions_hourly WHERE site_id = ? GROUP BY hour, dimension, value, lvl HAVING sumMerge(visits) != 0
		ORDER BY hour, dimension, value, lvl`,
	}
	var out []string
	for _, q := range queries {
		rows, err := conn.Query(context.Background(), q, site)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			out = append(out, line)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
