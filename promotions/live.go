package promotions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

// errRebuilt is followOnce's answer when user_promotions changed in a way
// the view cannot follow row by row.
var errRebuilt = errors.New("user_promotions was rebuilt by a replay, or a visitor forgotten")

// follow fills the view and keeps it current until ctx ends, starting
// over (a fresh read of PostgreSQL) when Kafka fails it.
func (a *API) follow(ctx context.Context) error {
	wait := time.Second
	for {
		err := a.followOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errRebuilt) {
			// Not a failure: read everything again, now.
			a.log.Info("promotions view: reading postgres afresh", "why", err)
			wait = time.Second
			continue
		}
		a.log.Warn("promotions view: following updates failed; starting over", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// followOnce is the view's life between two failures. The topic's offsets
// are taken before PostgreSQL is read: an update published before them
// was committed before them, so the read has it; anything published
// after them is read from the topic, some of it twice, which the view's
// versions make harmless.
func (a *API) followOnce(ctx context.Context) error {
	topic := event.PromotionUpdatesTopic(a.kafka.TopicPrefix)
	tail, err := kafka.NewTail(a.kafka, "footfall-promotions", a.log)
	if err != nil {
		return err
	}
	defer func() {
		if err := tail.Close(); err != nil {
			a.log.Warn("close kafka tail", "err", err)
		}
	}()
	from, err := tail.Newest(topic)
	if err != nil {
		return err
	}
	first, err := readPostgres(ctx, a.pool, time.Time{})
	if err != nil {
		return err
	}
	fresh := newView()
	fresh.merge(first)
	a.view.replace(fresh)
	a.log.Info("promotions view filled", "rows", len(first.rows), "links", len(first.links), "partitions", len(from))
	a.streams.refreshAll()

	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tailed := make(chan error, 1)
	go func() { tailed <- tail.Run(tctx, topic, from, a.take) }()

	since := first.at
	tick := time.NewTicker(a.cfg.Resync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			cancel()
			return errors.Join(<-tailed, ctx.Err())
		case err := <-tailed:
			return fmt.Errorf("read %s: %w", topic, err)
		case <-tick.C:
		}
		r, err := readPostgres(ctx, a.pool, since.Add(-syncOverlap))
		if err != nil {
			a.m.resyncs.WithLabelValues("error").Inc()
			a.log.Warn("promotions view: resync from postgres", "err", err)
			continue
		}
		if r.generation != first.generation {
			// A replay swapped the tables, or a forget deleted a
			// visitor's rows (docs/privacy.md): only a full read answers
			// as PostgreSQL does now.
			return fmt.Errorf("%w (generation %d, the view has %d)", errRebuilt, r.generation, first.generation)
		}
		a.m.resyncs.WithLabelValues("ok").Inc()
		since = r.at
		a.view.merge(r)
		a.m.expired.Add(float64(a.view.sweep(time.Now())))
		// The catalog, its windows and expiries change answers without an
		// update: every stream is checked, and told only if its answer moved.
		a.streams.refreshAll()
	}
}

// take applies one promotion_updates record and tells the streams it
// may concern.
func (a *API) take(r kafka.Record) {
	var u enricher.Update
	if err := json.Unmarshal(r.Value, &u); err != nil || u.Site == "" {
		a.m.updates.WithLabelValues("bad").Inc()
		a.log.Warn("promotions view: skip an update that is not one", "partition", r.Partition, "offset", r.Offset, "err", err)
		return
	}
	a.m.updates.WithLabelValues("applied").Inc()
	if !r.Timestamp.IsZero() {
		a.m.updateLag.Observe(time.Since(r.Timestamp).Seconds())
	}
	a.view.apply(&u)
	a.streams.changed(u.Site, a.view.audience(u.Site, u.User))
}
