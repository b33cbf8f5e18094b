// Package pgoffsets keeps a consumer group's Kafka offsets in PostgreSQL's
// consumer_offsets table (migration 0001), for the workers that write what
// a batch caused to PostgreSQL too (the enricher, alerts, the moderator).
//
// The offsets are written in the transaction that writes the batch's
// results, so they say exactly which records those results hold: a crash
// between the PostgreSQL commit and Kafka's, or a redelivery, neither loses
// a record nor applies it twice. The group resumes from these offsets
// (kafka.OffsetStore), whatever Kafka's committed offsets say.
//
// During a rebalance two members can hold one partition for a while. A
// batch's transaction therefore locks its partitions' rows (Lock) before
// it writes: the second member waits, then sees the first one's offsets and
// skips what it applied. Rows are locked in one order (by topic, then
// partition), so two transactions over overlapping partitions cannot
// deadlock.
package pgoffsets

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/kafka"
)

// Querier is a pool or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

var (
	_ Querier = (*pgxpool.Pool)(nil)
	_ Querier = pgx.Tx(nil)
)

// Partition is one topic partition.
type Partition struct {
	Topic     string
	Partition int32
}

// Compare orders partitions by topic, then number: the order Lock takes
// their rows in.
func Compare(a, b Partition) int {
	return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// Partitions returns each partition recs come from, once, in Compare order.
func Partitions(recs []kafka.Record) []Partition {
	seen := map[Partition]bool{}
	var parts []Partition
	for _, r := range recs {
		if k := (Partition{r.Topic, r.Partition}); !seen[k] {
			seen[k] = true
			parts = append(parts, k)
		}
	}
	slices.SortFunc(parts, Compare)
	return parts
}

// After returns, per partition, the offset after the last of recs: what to
// store once all of them are handled.
func After(recs []kafka.Record) map[Partition]int64 {
	next := map[Partition]int64{}
	for _, r := range recs {
		k := Partition{r.Topic, r.Partition}
		next[k] = max(next[k], r.Offset+1)
	}
	return next
}

// Next reads group's stored offsets of topic, by partition.
func Next(ctx context.Context, q Querier, group, topic string) (map[int32]int64, error) {
	rows, err := q.Query(ctx, `SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2`, group, topic)
	if err != nil {
		return nil, fmt.Errorf("read consumer_offsets: %w", err)
	}
	out := map[int32]int64{}
	var p int32
	var off int64
	if _, err := pgx.ForEachRow(rows, []any{&p, &off}, func() error { out[p] = off; return nil }); err != nil {
		return nil, fmt.Errorf("read consumer_offsets: %w", err)
	}
	return out, nil
}

// Lock reads and row-locks group's offsets of parts inside tx, and returns
// them. A partition seen for the first time gets a row first (next offset
// 0, replaced by Save in the same transaction): a concurrent insert of the
// same row waits for this transaction, so even a partition's first batch is
// applied once. Rows are inserted and locked in Compare order, whatever
// the order of parts.
func Lock(ctx context.Context, tx pgx.Tx, group string, parts []Partition) (map[Partition]int64, error) {
	parts = slices.SortedFunc(slices.Values(parts), Compare)
	topics, nums := make([]string, len(parts)), make([]int32, len(parts))
	for i, k := range parts {
		topics[i], nums[i] = k.Topic, k.Partition
	}
	var b pgx.Batch // one round trip
	b.Queue(`
		INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
		SELECT $1, b.topic, b.partition, 0 FROM unnest($2::text[], $3::int[]) AS b(topic, partition)
		ON CONFLICT (group_id, topic, partition) DO NOTHING`, group, topics, nums)
	b.Queue(`
		SELECT o.topic, o.partition, o.next_offset FROM consumer_offsets o
		JOIN unnest($2::text[], $3::int[]) AS b(topic, partition) USING (topic, partition)
		WHERE o.group_id = $1
		ORDER BY o.topic, o.partition
		FOR UPDATE OF o`, group, topics, nums)
	results := tx.SendBatch(ctx, &b)
	if _, err := results.Exec(); err != nil {
		_ = results.Close() // the statement's error is the one to report
		return nil, fmt.Errorf("add consumer_offsets rows: %w", err)
	}
	rows, err := results.Query()
	if err != nil {
		_ = results.Close()
		return nil, fmt.Errorf("lock consumer_offsets: %w", err)
	}
	out := make(map[Partition]int64, len(parts))
	var k Partition
	var off int64
	if _, err := pgx.ForEachRow(rows, []any{&k.Topic, &k.Partition, &off}, func() error { out[k] = off; return nil }); err != nil {
		_ = results.Close()
		return nil, fmt.Errorf("lock consumer_offsets: %w", err)
	}
	if err := results.Close(); err != nil {
		return nil, fmt.Errorf("lock consumer_offsets: %w", err)
	}
	return out, nil
}

// Save stores group's next offset to read per partition. An offset only
// moves forward: a stored one past next is kept.
func Save(ctx context.Context, q Querier, group string, next map[Partition]int64) error {
	if _, err := q.Exec(ctx, upsert, args(group, next)...); err != nil {
		return fmt.Errorf("save consumer_offsets: %w", err)
	}
	return nil
}

// QueueSave queues Save's statement on b, for a writer that sends its
// batch's writes and offsets in one round trip; it reports the statement's
// error itself.
func QueueSave(b *pgx.Batch, group string, next map[Partition]int64) {
	b.Queue(upsert, args(group, next)...)
}

const upsert = `
	INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
	SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[])
	ON CONFLICT (group_id, topic, partition) DO UPDATE SET
	  next_offset = GREATEST(consumer_offsets.next_offset, EXCLUDED.next_offset), updated_at = now()`

// args are upsert's arguments.
func args(group string, next map[Partition]int64) []any {
	topics, parts, offs := make([]string, 0, len(next)), make([]int32, 0, len(next)), make([]int64, 0, len(next))
	for k, off := range next {
		topics, parts, offs = append(topics, k.Topic), append(parts, k.Partition), append(offs, off)
	}
	return []any{group, topics, parts, offs}
}
