package clickhouse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// A table Footfall deletes from by mutation (ALTER TABLE … DELETE) or
// drops partitions of is, on a cluster, a Distributed table over each
// shard's replicated NAME_local table (migrations/clickhouse-cluster): the
// ALTER must run on those, on every shard, and waiting for a mutation
// means waiting on every replica.

// Alter runs ALTER TABLE table clause (args bound into it) where table's
// rows are stored: on one server, table itself; on a cluster, each
// shard's replicated NAME_local, on one replica of the shard (the first
// that takes it), which ClickHouse replicates to the shard's others. That
// keeps these ALTERs off the distributed DDL queue (ON CLUSTER): on 18.16,
// two replicas of a shard taking one such task can wedge a server's DDL
// worker ("Node exists: …/shards/…/executed") until it restarts, and with
// it every later ON CLUSTER query.
func (c *Client) Alter(ctx context.Context, conn driver.Conn, table, clause string, args ...any) error {
	if c.Cluster() == "" {
		if err := conn.Exec(ctx, "ALTER TABLE "+QuoteIdent(table)+" "+clause, args...); err != nil {
			return fmt.Errorf("alter table %s %s: %w", table, clause, err)
		}
		return nil
	}
	shards, err := c.shards(ctx, conn)
	if err != nil {
		return err
	}
	stmt := "ALTER TABLE " + QuoteIdent(c.db) + "." + QuoteIdent(table+"_local") + " " + clause
	for i, replicas := range shards {
		var errs []error
		for _, addr := range replicas {
			err := c.onServer(ctx, addr, func(s driver.Conn) error { return s.Exec(ctx, stmt, args...) })
			if err == nil {
				errs = nil
				break
			}
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		}
		if len(errs) > 0 {
			return fmt.Errorf("alter table %s %s on shard %d: %w", table, clause, i+1, errors.Join(errs...))
		}
	}
	return nil
}

// Delete deletes table's rows where where holds (args bound into it), as
// a mutation, which ClickHouse runs in the background: WaitMutations
// waits for it.
func (c *Client) Delete(ctx context.Context, conn driver.Conn, table, where string, args ...any) error {
	return c.Alter(ctx, conn, table, "DELETE WHERE "+where, args...)
}

// onServer runs f on a connection of its own to the cluster's server addr.
func (c *Client) onServer(ctx context.Context, addr string, f func(driver.Conn) error) error {
	cfg := c.cfg
	cfg.Addr = addr
	s, err := Open(ctx, cfg, c.db)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	return f(s)
}

// WaitMutations waits until every mutation of tables is done (on a
// cluster, of their replicated tables on every replica), or wait has
// passed. ClickHouse 18.16 says nothing of a mutation that fails but
// that it is not done. Nor does it say why one waits: on a replicated
// table written with insert_quorum, 18.16 never mutates the newest
// quorum-written part of each partition (the part a sequentially
// consistent read checks for) until another quorum insert into that
// partition follows, so a delete over a table with a partition no longer
// written to (a past day's) never finishes. Current releases skip only a
// part whose quorum is still in progress (docs/scale-out.md).
func (c *Client) WaitMutations(ctx context.Context, conn driver.Conn, tables []string, wait time.Duration) error {
	if len(tables) == 0 {
		return nil
	}
	names := tables
	if c.Cluster() != "" {
		names = make([]string, len(tables))
		for i, t := range tables {
			names[i] = t + "_local"
		}
	}
	err := c.waitEveryServer(ctx, conn, wait,
		`SELECT count() FROM system.mutations WHERE database = currentDatabase() AND has(?, table) AND is_done = 0`, names)
	if err != nil {
		err = fmt.Errorf("deletes of %v: %w", tables, err)
		if c.Cluster() != "" {
			err = fmt.Errorf("%w (if the loaders write with --clickhouse-insert-quorum on ClickHouse 18.x, deletes cannot finish: see docs/scale-out.md)", err)
		}
	}
	return err
}

// WaitDropped waits until no server holds an active part of table's
// partitions (ids) any more: on a cluster, Alter's DROP PARTITION returns
// once one replica of each shard dropped them, and the others follow from
// the replication log. On one server the drop is done when it returns.
func (c *Client) WaitDropped(ctx context.Context, conn driver.Conn, table string, partitions []string, wait time.Duration) error {
	if c.Cluster() == "" || len(partitions) == 0 {
		return nil
	}
	err := c.waitEveryServer(ctx, conn, wait,
		`SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = ? AND active AND has(?, partition_id)`,
		table+"_local", partitions)
	if err != nil {
		return fmt.Errorf("drop of %s partitions %v: %w", table, partitions, err)
	}
	return nil
}

// waitEveryServer polls count, a query of the system tables of one
// server, until it is 0 on every server: on a cluster, every replica of
// every shard (system.clusters), each asked on a connection of its own
// (18.16 has no clusterAllReplicas, and cluster() asks one replica of each
// shard, while each replica runs a mutation or a drop on its own).
func (c *Client) waitEveryServer(ctx context.Context, conn driver.Conn, wait time.Duration, count string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	servers := map[string]driver.Conn{"": conn}
	if c.Cluster() != "" {
		shards, err := c.shards(ctx, conn)
		if err != nil {
			return err
		}
		addrs := slices.Concat(shards...)
		servers = map[string]driver.Conn{}
		defer func() {
			for _, s := range servers {
				_ = s.Close()
			}
		}()
		for _, addr := range addrs {
			cfg := c.cfg
			cfg.Addr = addr
			s, err := Open(ctx, cfg, c.db)
			if err != nil {
				return fmt.Errorf("server %s of cluster %s: %w", addr, c.Cluster(), err)
			}
			servers[addr] = s
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	left := map[string]uint64{} // as last read, by server
	for {
		var errs []error
		for addr, s := range servers {
			var n uint64
			if err := s.QueryRow(ctx, count, args...).Scan(&n); err != nil {
				if ctx.Err() == nil {
					errs = append(errs, fmt.Errorf("server %s: %w", addr, err))
				}
				continue
			}
			if left[addr] = n; n == 0 {
				delete(left, addr)
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var where []string
			for addr, n := range left {
				where = append(where, fmt.Sprintf("%d on %s", n, cmp.Or(addr, "the server")))
			}
			slices.Sort(where)
			return fmt.Errorf("not done after %s (%s): %w", wait, strings.Join(where, ", "), ctx.Err())
		case <-tick.C:
		}
	}
}

// shards lists the cluster's servers (host:port of the native protocol)
// by shard, as system.clusters names them.
func (c *Client) shards(ctx context.Context, conn driver.Conn) ([][]string, error) {
	rows, err := conn.Query(ctx, `SELECT shard_num, host_name, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num`, c.Cluster())
	if err != nil {
		return nil, fmt.Errorf("read system.clusters: %w", err)
	}
	var out [][]string
	last := uint32(0)
	for rows.Next() {
		var shard uint32
		var host string
		var port uint16
		if err := rows.Scan(&shard, &host, &port); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("read system.clusters: %w", err)
		}
		if len(out) == 0 || shard != last {
			out, last = append(out, nil), shard
		}
		out[len(out)-1] = append(out[len(out)-1], net.JoinHostPort(host, strconv.Itoa(int(port))))
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read system.clusters: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cluster %s: no servers in system.clusters", c.Cluster())
	}
	return out, nil
}

// QuoteIdent quotes a ClickHouse identifier, QuoteString a string literal.
func QuoteIdent(s string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

func QuoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// Rewrite marks ctx's inserts as writing again rows that were written
// before: a rebuild's, or a forget's recompute of rollup rows. A replicated
// table takes an insert whose block equals one of the last ones it took
// (100 by default) for a retry and silently drops it (insert_deduplicate),
// and a rebuilt visit, alone in its block, is just such a block. Footfall's
// writers do not need that dedup: the loader asks which events are new
// before it inserts.
func Rewrite(ctx context.Context) context.Context {
	return ch.Context(ctx, ch.WithSettings(ch.Settings{"insert_deduplicate": 0}))
}
