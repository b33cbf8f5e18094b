// Package alerts watches the log records on <prefix>.logs and notifies a
// webhook when a rule's count of matching records in a window reaches its
// threshold (issue 15; docs/alerts.md). Rules are data in PostgreSQL.
// Window counts, the notifications they cause and the group's Kafka
// offsets are written in one transaction, so a crash or a redelivery
// neither loses nor double-counts a record, and a (rule, window) never
// notifies twice. Notifications go through an outbox table that a
// deliverer drains with retries.
package alerts

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/pgoffsets"
	"github.com/footfall/footfall/internal/server"
)

// Deps are what the worker is given.
type Deps struct {
	Kafka kafka.Config
	Pool  *pgxpool.Pool
	// DeadLetters publishes the records PostgreSQL refuses for good.
	DeadLetters kafka.Publisher
	Ops         *server.Ops
	Log         *slog.Logger
	// Grace bounds the last write as the worker stops.
	Grace time.Duration
	// Now is the wall clock (time.Now when nil): it decides when a window
	// is settled, stale, and when a delivery is due. Tests move it.
	Now func() time.Time
	// Client posts the webhooks (when nil, one that follows no redirect;
	// each POST is bounded by --alerts-webhook-timeout).
	Client *http.Client
}

// Alerts is a consumer-group member counting log records into alert
// windows, with the loops that resolve quiet rules and deliver the outbox.
type Alerts struct {
	cfg    Config
	pool   *pgxpool.Pool
	rules  *rules
	group  *kafka.Group
	client *http.Client
	log    *slog.Logger
	m      *metrics
	now    func() time.Time
	// wake tells a deliverer that notifications were just written.
	wake chan struct{}
}

// New builds the worker reading event.LogsTopic.
func New(cfg Config, d Deps) (*Alerts, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Alerts{
		cfg: cfg, pool: d.Pool, rules: &rules{pool: d.Pool},
		client: d.Client, log: d.Log, m: newMetrics(d.Ops.Registry()), now: d.Now,
		wake: make(chan struct{}, 1),
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.client == nil {
		// A redirect is not followed: a 301 or 302 would turn the POST
		// into a GET whose 200 says nothing about the alert.
		a.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	g, err := kafka.NewGroup(d.Kafka, kafka.GroupConfig{
		Group: cfg.Group, Topics: []string{event.LogsTopic(d.Kafka.TopicPrefix)}, Batch: cfg.Batch,
		DeadLetterTopic: event.DeadTopic(d.Kafka.TopicPrefix), Grace: d.Grace,
	}, a, d.DeadLetters, d.Log, d.Ops.Registry())
	if err != nil {
		return nil, err
	}
	a.group = g
	d.Ops.AddCheck("consumer-group", g.Ready)
	return a, nil
}

var (
	_ kafka.BatchHandler = (*Alerts)(nil)
	_ kafka.OffsetStore  = (*Alerts)(nil)
)

// Run consumes until ctx ends, while rereading the rules, resolving quiet
// rules, delivering the outbox and pruning old rows in the background.
// Deliveries in flight when ctx ends are finished (each bounded by the
// webhook timeout); what is left waits in the outbox for the next start.
func (a *Alerts) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	loops := []func(context.Context){a.refreshRules, a.resolveLoop, a.prune}
	for range a.cfg.DeliveryConcurrency {
		loops = append(loops, a.deliverLoop)
	}
	for _, loop := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	err := a.group.Run(ctx)
	wg.Wait()
	return err
}

// every runs f now and then every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refreshRules rereads alert_rules every --alerts-rules-refresh.
func (a *Alerts) refreshRules(ctx context.Context) {
	every(ctx, a.cfg.RulesRefresh, func() {
		s, err := a.rules.reload(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.m.ruleLoads.WithLabelValues("error").Inc()
				a.log.Warn("reread alert rules; keeping the last ones", "err", err)
			}
			return
		}
		a.m.ruleLoads.WithLabelValues("ok").Inc()
		a.m.rules.Set(float64(s.n))
	})
}

// prune deletes, hourly, window counts and finished notifications older
// than --alerts-retention.
func (a *Alerts) prune(ctx context.Context) {
	every(ctx, time.Hour, func() {
		before := a.now().Add(-a.cfg.Retention)
		for _, q := range []string{
			`DELETE FROM alert_notifications WHERE created_at < $1 AND (delivered_at IS NOT NULL OR gave_up_at IS NOT NULL)`,
			`DELETE FROM alert_windows WHERE window_end < $1`,
		} {
			if _, err := a.pool.Exec(ctx, q, before); err != nil && ctx.Err() == nil {
				a.log.Warn("prune alert tables", "err", err)
			}
		}
	})
}

// notify wakes a deliverer, if none is awake yet.
func (a *Alerts) notify() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// NextOffsets implements kafka.OffsetStore: the group resumes from the
// offsets committed with the counts, not from Kafka's.
func (a *Alerts) NextOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	return pgoffsets.Next(ctx, a.pool, a.cfg.Group, topic)
}

// SkipRecords implements kafka.OffsetStore: records sent to the
// dead-letter topic are consumed, so the stored offsets move past them.
func (a *Alerts) SkipRecords(ctx context.Context, recs []kafka.Record) error {
	next := pgoffsets.After(recs)
	return pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error { return pgoffsets.Save(ctx, tx, a.cfg.Group, next) })
}
