package alerts

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/footfall/footfall/internal/kafka"
)

// The worker keeps its Kafka offsets in consumer_offsets (migration 0001)
// under its group id, as the enricher does: written in the transaction
// that counts the records, they say exactly which records the counts
// hold, whatever Kafka's own committed offsets say.

// partitionKey is one topic partition.
type partitionKey struct {
	topic     string
	partition int32
}

// batchPartitions returns each partition recs come from, once, in order.
func batchPartitions(recs []kafka.Record) []partitionKey {
	seen := map[partitionKey]bool{}
	var parts []partitionKey
	for _, r := range recs {
		if k := (partitionKey{r.Topic, r.Partition}); !seen[k] {
			seen[k] = true
			parts = append(parts, k)
		}
	}
	slices.SortFunc(parts, func(a, b partitionKey) int {
		return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	return parts
}

// nextOffsets reads the stored offsets of topic.
func (a *Alerts) nextOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	rows, err := a.pool.Query(ctx, `SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2`, a.cfg.Group, topic)
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

// lockOffsets reads and row-locks the stored offsets of parts (sorted)
// inside tx, adding a row for a partition seen for the first time, so two
// members that both hold a partition during a rebalance cannot both count
// it: the second waits, then sees the first one's offsets and skips what
// it counted.
func (a *Alerts) lockOffsets(ctx context.Context, tx pgx.Tx, parts []partitionKey) (map[partitionKey]int64, error) {
	topics, nums := make([]string, len(parts)), make([]int32, len(parts))
	for i, k := range parts {
		topics[i], nums[i] = k.topic, k.partition
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
		SELECT $1, b.topic, b.partition, 0 FROM unnest($2::text[], $3::int[]) AS b(topic, partition)
		ON CONFLICT (group_id, topic, partition) DO NOTHING`, a.cfg.Group, topics, nums); err != nil {
		return nil, fmt.Errorf("add consumer_offsets rows: %w", err)
	}
	rows, err := tx.Query(ctx, `
		SELECT o.topic, o.partition, o.next_offset FROM consumer_offsets o
		JOIN unnest($2::text[], $3::int[]) AS b(topic, partition) USING (topic, partition)
		WHERE o.group_id = $1
		ORDER BY o.topic, o.partition
		FOR UPDATE OF o`, a.cfg.Group, topics, nums)
	if err != nil {
		return nil, fmt.Errorf("lock consumer_offsets: %w", err)
	}
	out := make(map[partitionKey]int64, len(parts))
	var k partitionKey
	var off int64
	if _, err := pgx.ForEachRow(rows, []any{&k.topic, &k.partition, &off}, func() error { out[k] = off; return nil }); err != nil {
		return nil, fmt.Errorf("lock consumer_offsets: %w", err)
	}
	return out, nil
}

// saveOffsets stores the next offset to read per partition.
func (a *Alerts) saveOffsets(ctx context.Context, tx pgx.Tx, next map[partitionKey]int64) error {
	topics, parts, offs := make([]string, 0, len(next)), make([]int32, 0, len(next)), make([]int64, 0, len(next))
	for k, off := range next {
		topics, parts, offs = append(topics, k.topic), append(parts, k.partition), append(offs, off)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
		SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[])
		ON CONFLICT (group_id, topic, partition) DO UPDATE SET
		  next_offset = GREATEST(consumer_offsets.next_offset, EXCLUDED.next_offset), updated_at = now()`,
		a.cfg.Group, topics, parts, offs); err != nil {
		return fmt.Errorf("save consumer_offsets: %w", err)
	}
	return nil
}
