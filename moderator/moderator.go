// Package moderator decides product reviews. A consumer-group member on
// the reviews topic applies each site's versioned rule set (banned words
// in any spelling, links, repeated text, too many reviews by one author,
// an optional external classifier) and moves each pending review to
// approved or rejected with the rule that decided, writing decisions and
// Kafka offsets in one transaction. A sweep decides reviews whose record
// never reached Kafka, and Replay re-decides past reviews after a rule
// change (docs/moderation.md).
package moderator

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/pgoffsets"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/reviews"
)

// Config is the moderator's configuration. The rules themselves are data,
// per site, in moderation_rules (migration 0007).
type Config struct {
	Group string
	Batch kafka.BatchPolicy
	// SweepAfter is how long a review may stay pending before the sweep
	// decides it from PostgreSQL; SweepEvery how often the sweep looks.
	SweepAfter, SweepEvery time.Duration
	// ClassifierTimeout bounds one call of a site's classifier hook.
	ClassifierTimeout time.Duration
}

// DefaultConfig decides a review within about 50 ms of its post.
func DefaultConfig() Config {
	return Config{
		Group:      "footfall-moderator",
		Batch:      kafka.BatchPolicy{Count: 100, Bytes: 1 << 20, Age: 50 * time.Millisecond},
		SweepAfter: 30 * time.Second, SweepEvery: 10 * time.Second,
		ClassifierTimeout: 3 * time.Second,
	}
}

// RegisterFlags binds c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Group, "moderator-group", c.Group, "moderator consumer group id")
	c.Batch.RegisterFlags(fs, "moderator")
	fs.DurationVar(&c.SweepAfter, "moderator-sweep-after", c.SweepAfter, "a review still pending this long after its post is decided from PostgreSQL (its Kafka record never came, or is far behind)")
	fs.DurationVar(&c.SweepEvery, "moderator-sweep-interval", c.SweepEvery, "how often the moderator looks for reviews pending longer than --moderator-sweep-after")
	fs.DurationVar(&c.ClassifierTimeout, "moderator-classifier-timeout", c.ClassifierTimeout, "longest wait for a site's classifier hook (moderation_rules.classifier_url); a hook that fails is retried, never taken for an approval")
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Group == "":
		return config.Invalid("moderator-group", `""`, "a consumer group id")
	case c.SweepAfter <= 0:
		return config.Invalid("moderator-sweep-after", c.SweepAfter, "a positive duration")
	case c.SweepEvery <= 0:
		return config.Invalid("moderator-sweep-interval", c.SweepEvery, "a positive duration")
	case c.ClassifierTimeout <= 0:
		return config.Invalid("moderator-classifier-timeout", c.ClassifierTimeout, "a positive duration")
	}
	return c.Batch.Validate("moderator")
}

// Deps are what the moderator is given.
type Deps struct {
	Kafka kafka.Config
	Pool  *pgxpool.Pool
	// DeadLetters publishes records that are no review.
	DeadLetters kafka.Publisher
	Ops         *server.Ops
	Log         *slog.Logger
	Grace       time.Duration
}

// Moderator is a consumer-group member deciding reviews.
type Moderator struct {
	cfg   Config
	pool  *pgxpool.Pool
	group *kafka.Group
	log   *slog.Logger
	m     *metrics
	*decider
}

// New builds a Moderator reading the reviews topic.
func New(cfg Config, d Deps) (*Moderator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := newMetrics(d.Ops.Registry())
	mod := &Moderator{cfg: cfg, pool: d.Pool, log: d.Log, m: m, decider: &decider{cls: newClassifier(cfg.ClassifierTimeout, m.classifierCalls)}}
	g, err := kafka.NewGroup(d.Kafka, kafka.GroupConfig{
		Group: cfg.Group, Topics: []string{reviews.Topic(d.Kafka.TopicPrefix)}, Batch: cfg.Batch,
		DeadLetterTopic: event.DeadTopic(d.Kafka.TopicPrefix), Grace: d.Grace,
	}, mod, d.DeadLetters, d.Log, d.Ops.Registry())
	if err != nil {
		return nil, err
	}
	mod.group = g
	d.Ops.AddCheck("consumer-group", g.Ready)
	return mod, nil
}

// Run consumes until ctx ends, sweeping stale pending reviews meanwhile.
func (mod *Moderator) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		mod.sweepEvery(ctx)
	}()
	err := mod.group.Run(ctx)
	<-done
	return err
}

var (
	_ kafka.BatchHandler = (*Moderator)(nil)
	_ kafka.OffsetStore  = (*Moderator)(nil)
)

// NextOffsets implements kafka.OffsetStore: the group resumes from the
// offsets committed with the decisions.
func (mod *Moderator) NextOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	return pgoffsets.Next(ctx, mod.pool, mod.cfg.Group, topic)
}

// SkipRecords implements kafka.OffsetStore: dead-lettered records are
// consumed.
func (mod *Moderator) SkipRecords(ctx context.Context, recs []kafka.Record) error {
	return pgoffsets.Save(ctx, mod.pool, mod.cfg.Group, pgoffsets.After(recs))
}

// HandleBatch decides the batch's pending reviews, then writes the
// decisions and the offsets in one transaction. A review no longer
// pending (a resend's second record, one the sweep decided) is skipped;
// the write only moves reviews that are still pending, so a batch
// delivered twice decides each review once. A classifier that fails fails
// the batch, which the group retries.
func (mod *Moderator) HandleBatch(ctx context.Context, recs []kafka.Record) error {
	keys := make([]reviewKey, 0, len(recs))
	for i, r := range recs {
		var msg reviews.Message
		if err := json.Unmarshal(r.Value, &msg); err != nil {
			return &kafka.RecordError{Index: i, Err: fmt.Errorf("not a review: %w", err)}
		}
		if msg.SiteID == "" || msg.ID == "" {
			return &kafka.RecordError{Index: i, Err: errors.New("review without site_id or id")}
		}
		keys = append(keys, reviewKey{msg.SiteID, msg.ID})
	}
	stored, err := loadReviews(ctx, mod.pool, keys)
	if err != nil {
		return err
	}
	var todo []review
	seen := map[reviewKey]bool{}
	for _, k := range keys {
		r, ok := stored[k]
		switch {
		case !ok:
			mod.m.skipped.WithLabelValues("unknown_review").Inc()
		case r.status != reviews.Pending || seen[k]:
			mod.m.skipped.WithLabelValues("not_pending").Inc()
		default:
			seen[k] = true
			todo = append(todo, r)
		}
	}
	ds, err := mod.decideAll(ctx, mod.pool, todo)
	if err != nil {
		return err
	}
	var written map[reviewKey]bool
	err = pgx.BeginFunc(ctx, mod.pool, func(tx pgx.Tx) error {
		// The lock makes two members that both hold a partition during a
		// rebalance write one after the other. Records below the stored
		// offsets need no filter: their reviews are decided already, and
		// saveDecisions only moves pending ones.
		if _, err := pgoffsets.Lock(ctx, tx, mod.cfg.Group, pgoffsets.Partitions(recs)); err != nil {
			return err
		}
		if len(ds) > 0 {
			if written, err = saveDecisions(ctx, tx, ds); err != nil {
				return err
			}
		}
		return pgoffsets.Save(ctx, tx, mod.cfg.Group, pgoffsets.After(recs))
	})
	if err != nil {
		return err
	}
	mod.count(ds, written)
	return nil
}

// count records the decisions that were written.
func (mod *Moderator) count(ds []decided, written map[reviewKey]bool) {
	for _, d := range ds {
		if !written[d.key] {
			mod.m.skipped.WithLabelValues("not_pending").Inc()
			continue
		}
		mod.m.decisions.WithLabelValues(d.Status, ruleName(d.Rule)).Inc()
	}
}

// ruleName is a decided_by_rule without its detail ("banned_word:hate" →
// "banned_word"), a metric label of bounded cardinality.
func ruleName(rule string) string {
	name, _, _ := strings.Cut(rule, ":")
	return name
}

// sweepEvery decides, every SweepEvery, the reviews pending for longer
// than SweepAfter: a review Kafka never took is decided all the same.
func (mod *Moderator) sweepEvery(ctx context.Context) {
	t := time.NewTicker(mod.cfg.SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := mod.sweep(ctx); err != nil && ctx.Err() == nil {
			mod.log.Warn("sweep pending reviews", "err", err)
		} else if n > 0 {
			mod.log.Info("decided reviews pending too long", "reviews", n)
		}
	}
}

// sweep decides stale pending reviews, oldest first, a slice at a time.
// One member of the group sweeps at a time (an advisory lock on the group
// id): two would decide the same reviews, and ask a classifier twice.
func (mod *Moderator) sweep(ctx context.Context) (n int, err error) {
	conn, err := mod.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	var mine bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, mod.cfg.Group).Scan(&mine); err != nil {
		return 0, fmt.Errorf("take the sweep lock: %w", err)
	}
	if !mine {
		return 0, nil
	}
	defer func() {
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext($1))`, mod.cfg.Group); uerr != nil {
			err = errors.Join(err, fmt.Errorf("release the sweep lock: %w", uerr))
		}
	}()
	const slice = 200
	total := 0
	for {
		todo, err := stalePending(ctx, mod.pool, mod.cfg.SweepAfter, slice)
		if err != nil || len(todo) == 0 {
			return total, err
		}
		ds, err := mod.decideAll(ctx, mod.pool, todo)
		if err != nil {
			return total, err
		}
		written, err := saveDecisions(ctx, mod.pool, ds)
		if err != nil {
			return total, err
		}
		mod.count(ds, written)
		mod.m.swept.Add(float64(len(written)))
		total += len(written)
		if len(todo) < slice {
			return total, nil
		}
	}
}

type metrics struct {
	decisions       *prometheus.CounterVec
	classifierCalls *prometheus.CounterVec
	skipped         *prometheus.CounterVec
	swept           prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_moderator_decisions_total", Help: "Reviews decided, by status (approved, rejected) and the rule that rejected them ('' for approved).",
		}, []string{"status", "rule"}),
		classifierCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_moderator_classifier_calls_total", Help: "Calls of sites' classifier hooks by outcome: clean, flagged, error (the batch is retried).",
		}, []string{"outcome"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_moderator_skipped_total", Help: "Review records not decided, by reason: not_pending (decided already), unknown_review.",
		}, []string{"reason"}),
		swept: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_moderator_swept_total", Help: "Reviews decided by the sweep of reviews pending longer than --moderator-sweep-after.",
		}),
	}
	reg.MustRegister(m.decisions, m.classifierCalls, m.skipped, m.swept)
	return m
}
