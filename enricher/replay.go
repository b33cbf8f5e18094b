package enricher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/pgoffsets"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/privacy"
)

// A replay recomputes user_promotions from the Kafka history under the
// rules as they are now, while the live enricher keeps going:
//
//  1. A second enricher (the replay group, ReplayGroup(live)) reads every
//     partition from its oldest record and writes into shadow tables,
//     user_promotions_next and processed_events_next, committing its
//     offsets in consumer_offsets under its own group id in the same
//     transaction as its writes: a replay that stops resumes where it
//     was, and applies each event once.
//  2. It runs until its offsets reach, on every partition, the end of the
//     partition when it started (or the live group's offset, if further),
//     then the position the live group has moved on to meanwhile
//     (catch-up).
//  3. The swap, one transaction: lock the live group's offset rows (FOR
//     UPDATE; every live batch locks the rows of its partitions first, so
//     no live batch is in flight once this returns and none starts until
//     the commit), then the replay's; check that the replay's offset is at
//     or past the live one on every partition (else roll back, let the
//     replay catch up and try again); lock both pairs of tables; drop the
//     live tables and rename the shadows into their place; set the live
//     group's offsets to the replay's; delete the replay's; raise
//     enricher_state.generation.
//
// No event is counted twice or lost across the swap: every event below
// the replay's offsets is in the new tables exactly once (the replay's
// offsets and event ids committed with its writes), and every event at or
// past them is applied by the live group after the swap, into the new
// tables, exactly once (its offsets now are the replay's: a live batch
// skips records below its stored offsets, so records the replay read past
// the live position are not applied twice, and none are skipped, because
// the replay was never behind the live group). What the live group wrote
// into the old tables is dropped with them; all of it was below its
// offsets, hence below the replay's.
//
// Identity links and known users are not rebuilt: rules do not change
// them, and the live group keeps writing them throughout.

// ReplayGroup is the group id under which a replay of live stores its
// offsets, and the Kafka consumer group it reads with.
func ReplayGroup(live string) string { return live + ".replay" }

// ReplayDeps are what a replay is given.
type ReplayDeps struct {
	Kafka kafka.Config
	Pool  *pgxpool.Pool
	Log   *slog.Logger
	// Progress, if set, is called every Poll with the replay's progress.
	Progress func(ReplayProgress)
	// Poll is how often progress is read and the swap tried (default
	// 250 ms).
	Poll time.Duration
	// Fresh discards an interrupted replay instead of resuming it.
	Fresh bool
	// Suppressions leaves out forgotten visitors' events, which Kafka
	// still holds; nil reads the suppressions topic for the replay.
	Suppressions Suppressor
}

// ReplayProgress is where a replay is.
type ReplayProgress struct {
	// Done is the records the replay consumed since it (re)started; Total
	// what it must consume to reach the live group's position now, which
	// grows while the live group moves on.
	Done, Total int64
	// CatchingUp is true once the live position at the start was reached.
	CatchingUp bool
}

// ReplayResult is what a finished replay did.
type ReplayResult struct {
	Events  int64 // records consumed (events of the enricher's types)
	Elapsed time.Duration
	Swaps   int // attempts until the swap held
}

// Replay rebuilds the live enricher cfg.Group's user_promotions from
// Kafka history and swaps it in; see the comment above.
func Replay(ctx context.Context, cfg Config, d ReplayDeps) (ReplayResult, error) {
	if err := cfg.Validate(); err != nil {
		return ReplayResult{}, err
	}
	if d.Poll <= 0 {
		d.Poll = 250 * time.Millisecond
	}
	log := d.Log.With("component", "replay")
	group := ReplayGroup(cfg.Group)
	if err := prepareShadow(ctx, d.Pool, group, d.Fresh, log); err != nil {
		return ReplayResult{}, err
	}
	in, err := kafka.NewInspector(d.Kafka)
	if err != nil {
		return ReplayResult{}, err
	}
	defer func() {
		if err := in.Close(); err != nil {
			log.Warn("close kafka inspector", "err", err)
		}
	}()

	sup := d.Suppressions
	if sup == nil {
		own := privacy.Follow(d.Kafka, log)
		defer func() { _ = own.Close() }() // returns nothing but nil
		sup = own
	}
	rcfg := cfg
	rcfg.Group = group
	rcfg.Batch.Age = max(rcfg.Batch.Age, 200*time.Millisecond) // history comes in full batches
	ops := server.NewOps()
	e := &Enricher{
		cfg: rcfg, store: newStore(d.Pool, group, shadowTables), replay: true,
		catalog: &catalog{pool: d.Pool, ttl: cfg.CatalogRefresh},
		log:     log, m: newMetrics(ops.Registry()), now: time.Now, suppress: sup,
	}
	topics := make([]string, len(Types))
	for i, t := range Types {
		topics[i] = event.Topic(d.Kafka.TopicPrefix, t)
	}
	h := &replayHandler{Enricher: e, in: in}
	g, err := kafka.NewGroup(d.Kafka, kafka.GroupConfig{
		Group: group, Topics: topics, Batch: rcfg.Batch,
		DeadLetterTopic: event.DeadTopic(d.Kafka.TopicPrefix), Grace: 2 * time.Second,
	}, h, discard{log}, log, ops.Registry())
	if err != nil {
		return ReplayResult{}, err
	}

	start, err := readOffsets(ctx, d.Pool, group)
	if err != nil {
		return ReplayResult{}, err
	}
	// The first target: the live position, or the end of every partition
	// if that is further (the live group lags, or has never run: a replay
	// that stopped at its position would rebuild nothing).
	target, err := readOffsets(ctx, d.Pool, cfg.Group)
	if err != nil {
		return ReplayResult{}, err
	}
	spans, err := in.Spans(topics...)
	if err != nil {
		return ReplayResult{}, err
	}
	for _, s := range spans {
		k := pgoffsets.Partition{Topic: s.Topic, Partition: s.Partition}
		target[k] = max(target[k], s.Newest)
	}
	gctx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- g.Run(gctx) }()
	stopGroup := func() error { stop(); return <-ran }

	began := time.Now()
	res := ReplayResult{}
	tick := time.NewTicker(d.Poll)
	defer tick.Stop()
	catchingUp := false
	for {
		select {
		case <-ctx.Done():
			return res, errors.Join(stopGroup(), ctx.Err())
		case err := <-ran:
			return res, fmt.Errorf("replay group stopped: %w", err)
		case <-tick.C:
		}
		mine, err := readOffsets(ctx, d.Pool, group)
		if err != nil {
			log.Warn("read replay offsets", "err", err)
			continue
		}
		live, err := readOffsets(ctx, d.Pool, cfg.Group)
		if err != nil {
			log.Warn("read live offsets", "err", err)
			continue
		}
		done := mine.sum() - start.sum()
		catchingUp = catchingUp || mine.reaches(target)
		if d.Progress != nil {
			d.Progress(ReplayProgress{Done: done, Total: done + mine.behind(live.max(target)), CatchingUp: catchingUp})
		}
		if !catchingUp || !mine.reaches(live) {
			continue
		}
		res.Swaps++
		swapped, err := swap(ctx, d.Pool, cfg.Group, group)
		if err != nil {
			log.Warn("swap; trying again", "err", err)
			continue
		}
		if !swapped {
			continue // the live group moved on meanwhile
		}
		res.Elapsed = time.Since(began)
		// The replay's batches fail from now on (its tables are gone);
		// its offsets are deleted, so they leave no trace.
		if err := stopGroup(); err != nil {
			log.Warn("stop replay group", "err", err)
		}
		final, err := readOffsets(ctx, d.Pool, cfg.Group)
		if err != nil {
			return res, err
		}
		res.Events = final.sum() - start.sum()
		if d.Progress != nil {
			d.Progress(ReplayProgress{Done: res.Events, Total: res.Events, CatchingUp: true})
		}
		return res, nil
	}
}

// replayHandler is the replay's enricher, reading a partition it holds no
// offset for from its oldest record, whatever the Kafka group committed
// in an earlier replay.
type replayHandler struct {
	*Enricher
	in *kafka.Inspector
}

func (h *replayHandler) NextOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	stored, err := pgoffsets.Next(ctx, h.store.pool, h.store.group, topic)
	if err != nil {
		return nil, err
	}
	spans, err := h.in.Spans(topic)
	if err != nil {
		return nil, err
	}
	for _, s := range spans {
		if _, ok := stored[s.Partition]; !ok {
			stored[s.Partition] = s.Oldest
		}
	}
	return stored, nil
}

// discard drops the records a replay cannot apply: the live group sent
// them to the dead-letter topic already.
type discard struct{ log *slog.Logger }

func (d discard) Publish(_ context.Context, recs []kafka.Record) error {
	d.log.Info("replay skips records the live enricher dead-lettered", "records", len(recs))
	return nil
}
