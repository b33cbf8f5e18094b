package loader

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/clickhouse"
)

// Retention says how long ClickHouse keeps what the loader writes, in days;
// 0 keeps it for ever. Data goes a whole partition at a time: a day of raw
// events, a month of visits or rollups (once all of that month is past).
type Retention struct {
	RawDays    int // events and sessions
	RollupDays int // events_hourly and sessions_hourly
	LogsDays   int // logs
}

// any says whether some table has a retention.
func (r Retention) any() bool { return r.RawDays > 0 || r.RollupDays > 0 || r.LogsDays > 0 }

// tables, how each is partitioned, and which retention is theirs.
var retained = []struct {
	table string
	daily bool
	days  func(Retention) int
}{
	{"events", true, func(r Retention) int { return r.RawDays }},
	{"sessions", false, func(r Retention) int { return r.RawDays }},
	{"events_hourly", false, func(r Retention) int { return r.RollupDays }},
	{"sessions_hourly", false, func(r Retention) int { return r.RollupDays }},
	{"logs", true, func(r Retention) int { return r.LogsDays }},
}

// DropExpired drops the partitions that ended before the retention of
// their table, and returns what it dropped as table:partition. On a
// cluster (migrations/clickhouse-cluster) the partitions are those of the
// replicated NAME_local tables on any shard, dropped on every shard
// (Client.Alter): a Distributed table has no partitions of its own.
func (c *ClickHouse) DropExpired(ctx context.Context, now time.Time, r Retention) ([]string, error) {
	conn, err := c.client.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var db string
	if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&db); err != nil {
		return nil, fmt.Errorf("read the current database: %w", err)
	}
	cluster := c.client.Cluster()
	var dropped []string
	for _, t := range retained {
		days := t.days(r)
		if days <= 0 {
			continue
		}
		table := t.table
		if cluster != "" {
			table = t.table + "_local"
		}
		cutoff := now.UTC().AddDate(0, 0, -days)
		parts, err := partitions(ctx, conn, cluster, db, table)
		if err != nil {
			return dropped, err
		}
		for _, p := range parts {
			if !expired(p, t.daily, cutoff) {
				continue
			}
			if err := c.client.Alter(ctx, conn, t.table, "DROP PARTITION "+p); err != nil {
				return dropped, fmt.Errorf("drop partition %s of %s: %w", p, table, err)
			}
			dropped = append(dropped, t.table+":"+p)
		}
	}
	return dropped, nil
}

// partitions lists the partition ids of table's active parts: on the
// connected server, or with cluster on one replica of every shard.
func partitions(ctx context.Context, conn driver.Conn, cluster, db, table string) ([]string, error) {
	from := "system.parts"
	if cluster != "" {
		from = "cluster(" + clickhouse.QuoteString(cluster) + ", system, parts)"
	}
	rows, err := conn.Query(ctx, `SELECT DISTINCT partition_id FROM `+from+`
		WHERE database = ? AND table = ? AND active`, db, table)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list partitions of %s: %w", table, err)
		}
		out = append(out, p)
	}
	return out, errors.Join(rows.Err(), rows.Close())
}

// expired: partition id YYYYMMDD (daily) or YYYYMM ended before cutoff.
// Ids that are neither are never dropped.
func expired(id string, daily bool, cutoff time.Time) bool {
	if _, err := strconv.Atoi(id); err != nil {
		return false
	}
	layout := "200601"
	if daily {
		layout = "20060102"
	}
	start, err := time.Parse(layout, id)
	if err != nil {
		return false
	}
	end := start.AddDate(0, 1, 0)
	if daily {
		end = start.AddDate(0, 0, 1)
	}
	return !end.After(cutoff)
}
