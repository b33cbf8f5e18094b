package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// A table Footfall deletes from by mutation (ALTER TABLE … DELETE) is, on
// a cluster, a Distributed table over each shard's replicated NAME_local
// table (migrations/clickhouse-cluster): the mutation must run on those,
// ON CLUSTER, and waiting for it means waiting on every shard.

// Local is how an ALTER names table's rows where they are stored: table
// itself on one server, its database-qualified replicated table ON
// CLUSTER on a cluster.
func (c *Client) Local(table string) string {
	if c.Cluster() == "" {
		return table
	}
	return QuoteIdent(c.db) + "." + QuoteIdent(table+"_local") + " ON CLUSTER " + QuoteIdent(c.Cluster())
}

// Delete deletes table's rows where where holds (args bound into it), as
// a mutation, which ClickHouse runs in the background: WaitMutations
// waits for it.
func (c *Client) Delete(ctx context.Context, conn driver.Conn, table, where string, args ...any) error {
	if err := conn.Exec(ctx, "ALTER TABLE "+c.Local(table)+" DELETE WHERE "+where, args...); err != nil {
		return fmt.Errorf("delete from %s where %s: %w", table, where, err)
	}
	return nil
}

// WaitMutations waits until every mutation of tables is done (on a
// cluster, of their replicated tables on every shard), or wait has
// passed. ClickHouse 18.16 says nothing of a mutation that fails but
// that it is not done. Nor does it say why one waits: with insert_quorum,
// it never mutates the newest part written with a quorum (the part a
// sequentially consistent read checks for) until another quorum insert
// into the table replaces it as the newest, so a delete waits for the
// next write to the table on each shard: seconds for events while a shop
// is open, longer for a quiet logs table.
func (c *Client) WaitMutations(ctx context.Context, conn driver.Conn, tables []string, wait time.Duration) error {
	if len(tables) == 0 {
		return nil
	}
	from, db, names := "system.mutations", "currentDatabase()", tables
	var args []any
	if c.Cluster() != "" {
		from, db = "cluster("+QuoteString(c.Cluster())+", system, mutations)", "?"
		args = append(args, c.db)
		names = make([]string, len(tables))
		for i, t := range tables {
			names[i] = t + "_local"
		}
	}
	args = append(args, names)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var pending uint64
		err := conn.QueryRow(ctx, `SELECT count() FROM `+from+` WHERE database = `+db+` AND has(?, table) AND is_done = 0`, args...).Scan(&pending)
		if err == nil && pending == 0 {
			return nil
		}
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("read system.mutations: %w", err)
		}
		select {
		case <-ctx.Done():
			err := fmt.Errorf("%d deletes of %v not done after %s: %w", pending, tables, wait, ctx.Err())
			if c.cfg.InsertQuorum > 0 {
				err = fmt.Errorf("%w; with an insert quorum, ClickHouse 18.16 rewrites a table's newest part only once another insert into that table follows on its shard", err)
			}
			return err
		case <-tick.C:
		}
	}
}

// QuoteIdent quotes a ClickHouse identifier, QuoteString a string literal.
func QuoteIdent(s string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

func QuoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}
