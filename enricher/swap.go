package enricher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/pgoffsets"
)

// offsets are one group's stored next offsets.
type offsets map[pgoffsets.Partition]int64

func readOffsets(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, group string, lock ...bool) (offsets, error) {
	sql := `SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1 ORDER BY topic, partition`
	if len(lock) > 0 && lock[0] {
		sql += ` FOR UPDATE`
	}
	rows, err := q.Query(ctx, sql, group)
	if err != nil {
		return nil, fmt.Errorf("read offsets of %s: %w", group, err)
	}
	out := offsets{}
	var k pgoffsets.Partition
	var off int64
	if _, err := pgx.ForEachRow(rows, []any{&k.Topic, &k.Partition, &off}, func() error { out[k] = off; return nil }); err != nil {
		return nil, fmt.Errorf("read offsets of %s: %w", group, err)
	}
	return out, nil
}

func (o offsets) sum() int64 {
	var n int64
	for _, v := range o {
		n += v
	}
	return n
}

// max is o and p's greater offset of each partition.
func (o offsets) max(p offsets) offsets {
	out := maps.Clone(o)
	for k, v := range p {
		out[k] = max(out[k], v)
	}
	return out
}

// reaches reports whether o is at or past target on every partition.
func (o offsets) reaches(target offsets) bool { return o.behind(target) == 0 }

// behind is how many records o lacks to reach target.
func (o offsets) behind(target offsets) int64 {
	var n int64
	for k, t := range target {
		if o[k] < t {
			n += t - o[k]
		}
	}
	return n
}

// prepareShadow creates the shadow tables, unless an interrupted replay
// left them (then it resumes); fresh drops them and the replay's offsets
// first. Offsets without tables are a replay that cannot resume: they go.
func prepareShadow(ctx context.Context, pool *pgxpool.Pool, group string, fresh bool, log *slog.Logger) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('user_promotions_next') IS NOT NULL AND to_regclass('processed_events_next') IS NOT NULL`).Scan(&exists); err != nil {
			return fmt.Errorf("look for shadow tables: %w", err)
		}
		if exists && !fresh {
			log.Info("resuming the replay the shadow tables hold")
			return nil
		}
		if _, err := tx.Exec(ctx, dropShadow); err != nil {
			return fmt.Errorf("drop shadow tables: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM consumer_offsets WHERE group_id = $1`, group); err != nil {
			return fmt.Errorf("forget replay offsets: %w", err)
		}
		if _, err := tx.Exec(ctx, createShadow); err != nil {
			return fmt.Errorf("create shadow tables: %w", err)
		}
		return nil
	})
}

const dropShadow = `DROP TABLE IF EXISTS user_promotions_next, processed_events_next`

// createShadow makes tables shaped as the live ones: same columns in the
// same order (cached statements keep working after the swap), defaults,
// checks, keys, fill factor and indexes, named as the live ones will be
// once renamed by swapTables.
const createShadow = `
CREATE TABLE user_promotions_next (LIKE user_promotions INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE) WITH (fillfactor = 85);
ALTER TABLE user_promotions_next
    ADD CONSTRAINT user_promotions_next_pkey PRIMARY KEY (site_id, user_key, promotion_id),
    ADD CONSTRAINT user_promotions_next_promotion_fkey FOREIGN KEY (site_id, promotion_id) REFERENCES promotions (site_id, id) ON DELETE CASCADE;
CREATE TABLE processed_events_next (LIKE processed_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE);
ALTER TABLE processed_events_next ADD CONSTRAINT processed_events_next_pkey PRIMARY KEY (site_id, event_id);
CREATE INDEX processed_events_next_age ON processed_events_next USING brin (processed_at) WITH (autosummarize = on);`

// swapTables puts the shadow tables in the live ones' place, under the
// live names for the tables, keys and indexes.
const swapTables = `
LOCK TABLE user_promotions, processed_events, user_promotions_next, processed_events_next IN ACCESS EXCLUSIVE MODE;
DROP TABLE user_promotions, processed_events;
ALTER TABLE user_promotions_next RENAME TO user_promotions;
ALTER INDEX user_promotions_next_pkey RENAME TO user_promotions_pkey;
ALTER TABLE user_promotions RENAME CONSTRAINT user_promotions_next_promotion_fkey TO user_promotions_site_id_promotion_id_fkey;
ALTER TABLE processed_events_next RENAME TO processed_events;
ALTER INDEX processed_events_next_pkey RENAME TO processed_events_pkey;
ALTER INDEX processed_events_next_age RENAME TO processed_events_age;
UPDATE enricher_state SET generation = generation + 1, rebuilt_at = now();`

// swap is step 3 of a replay. It returns false, having changed nothing,
// when the replay is behind the live group on some partition.
func swap(ctx context.Context, pool *pgxpool.Pool, live, replay string) (bool, error) {
	swapped := false
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// A live batch waits for these locks while the swap holds them:
		// bound that wait, and the swap's own for a long live batch.
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
			return err
		}
		liveOffs, err := readOffsets(ctx, tx, live, true)
		if err != nil {
			return err
		}
		mine, err := readOffsets(ctx, tx, replay, true)
		if err != nil {
			return err
		}
		if !mine.reaches(liveOffs) {
			return nil
		}
		if _, err := tx.Exec(ctx, swapTables); err != nil {
			return fmt.Errorf("swap tables: %w", err)
		}
		// A live batch on a partition the live group had no row for
		// (its first ever) was not held by the locks above, but by the
		// table locks: read again now that no live batch runs.
		if liveOffs, err = readOffsets(ctx, tx, live, true); err != nil {
			return err
		}
		if !mine.reaches(liveOffs) {
			return errNotCaughtUp
		}
		keys := slices.SortedFunc(maps.Keys(mine), pgoffsets.Compare)
		topics, parts, offs := make([]string, len(keys)), make([]int32, len(keys)), make([]int64, len(keys))
		for i, k := range keys {
			topics[i], parts[i], offs[i] = k.Topic, k.Partition, mine[k]
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
			SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[])
			ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
			live, topics, parts, offs); err != nil {
			return fmt.Errorf("move live offsets: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM consumer_offsets WHERE group_id = $1`, replay); err != nil {
			return fmt.Errorf("delete replay offsets: %w", err)
		}
		swapped = true
		return nil
	})
	if errors.Is(err, errNotCaughtUp) {
		return false, nil
	}
	return swapped, err
}

// errNotCaughtUp rolls a swap back: a live batch on a new partition
// committed while the swap waited for the tables.
var errNotCaughtUp = errors.New("the live group moved on while the swap waited")
