// Package enricher turns searches and clicks into per-user promotion scores
// in PostgreSQL within a fraction of a second. Each batch's scores, the ids
// of the events applied and the Kafka offsets they came from are written in
// one transaction, so a crash neither loses nor double-counts an event.
package enricher

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
)

// Config is the enricher's configuration.
type Config struct {
	Addr           string
	Group          string
	Batch          kafka.BatchPolicy
	SearchWeight   float64
	ClickWeight    float64
	ScoreTTL       time.Duration
	CatalogRefresh time.Duration
	DedupWindow    time.Duration
}

// DefaultConfig favours latency: small batches, written within 50 ms.
func DefaultConfig() Config {
	return Config{
		Addr:           "127.0.0.1:8082",
		Group:          "footfall-enricher",
		Batch:          kafka.BatchPolicy{Count: 1000, Bytes: 4 << 20, Age: 50 * time.Millisecond},
		SearchWeight:   10,
		ClickWeight:    5,
		ScoreTTL:       30 * 24 * time.Hour,
		CatalogRefresh: 10 * time.Second,
		DedupWindow:    7 * 24 * time.Hour,
	}
}

// RegisterFlags binds c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "enricher-addr", c.Addr, "enricher health and metrics listen address")
	fs.StringVar(&c.Group, "enricher-group", c.Group, "enricher consumer group id")
	c.Batch.RegisterFlags(fs, "enricher")
	fs.Float64Var(&c.SearchWeight, "search-weight", c.SearchWeight, "score a matching search adds to a promotion")
	fs.Float64Var(&c.ClickWeight, "click-weight", c.ClickWeight, "score a click on a promotion's page adds")
	fs.DurationVar(&c.ScoreTTL, "score-ttl", c.ScoreTTL, "how long a user's interest lasts after their last matching event")
	fs.DurationVar(&c.CatalogRefresh, "catalog-refresh", c.CatalogRefresh, "how often the promotions catalog is reloaded")
	fs.DurationVar(&c.DedupWindow, "dedup-window", c.DedupWindow, "how long event ids are remembered to drop resends")
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if err := c.Batch.Validate(); err != nil {
		return err
	}
	if c.ScoreTTL <= 0 || c.CatalogRefresh <= 0 || c.DedupWindow <= 0 {
		return errors.New("score-ttl, catalog-refresh and dedup-window must be positive")
	}
	return nil
}

// Enricher is a consumer-group member keeping user_promotions current.
type Enricher struct {
	cfg     Config
	store   *store
	catalog *catalog
	group   *kafka.Group
	ops     *server.Ops
	log     *slog.Logger
	m       *metrics
	now     func() time.Time
}

// New builds an Enricher reading searches, clicks and identifies.
func New(cfg Config, kc kafka.Config, pool *pgxpool.Pool, ops *server.Ops, log *slog.Logger) (*Enricher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Enricher{
		cfg:     cfg,
		store:   &store{pool: pool, group: cfg.Group},
		catalog: &catalog{pool: pool, ttl: cfg.CatalogRefresh},
		ops:     ops, log: log, m: newMetrics(ops.Registry()), now: time.Now,
	}
	topics := []string{event.Topic(kc.TopicPrefix, event.Search), event.Topic(kc.TopicPrefix, event.Click), event.Topic(kc.TopicPrefix, event.Identify)}
	g, err := kafka.NewGroup(kc, kafka.GroupConfig{Group: cfg.Group, Topics: topics, Batch: cfg.Batch}, e, log, ops.Registry())
	if err != nil {
		return nil, err
	}
	e.group = g
	ops.AddCheck("kafka", g.Ready)
	ops.AddCheck("postgres", pool.Ping)
	return e, nil
}

// Run consumes until ctx ends, serving health and metrics beside, and
// forgets old event ids once an hour.
func (e *Enricher) Run(ctx context.Context, ready func(net.Addr)) error {
	errc := make(chan error, 1)
	hctx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	go func() { errc <- server.Run(hctx, e.log, e.cfg.Addr, e.ops.Handler(), 5*time.Second, ready) }()
	go e.prune(ctx)
	go func() {
		<-ctx.Done()
		e.ops.Drain()
	}()
	err := e.group.Run(ctx)
	stopHTTP()
	if herr := <-errc; err == nil {
		err = herr
	}
	return err
}

func (e *Enricher) prune(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := e.store.pruneProcessed(ctx, e.cfg.DedupWindow); err != nil && ctx.Err() == nil {
			e.log.Warn("prune processed events", "err", err)
		} else if n > 0 {
			e.log.Info("pruned processed events", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// NextOffsets implements kafka.OffsetStore: the group resumes from the
// offsets committed with the scores, not from Kafka's.
func (e *Enricher) NextOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	return e.store.nextOffsets(ctx, topic)
}

var (
	_ kafka.BatchHandler = (*Enricher)(nil)
	_ kafka.OffsetStore  = (*Enricher)(nil)
)

// HandleBatch applies a batch in one transaction.
func (e *Enricher) HandleBatch(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
	promos, err := e.catalog.get(ctx, e.now())
	if err != nil {
		return err
	}
	tx, err := e.store.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := e.apply(ctx, tx, promos, msgs); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (e *Enricher) apply(ctx context.Context, tx pgx.Tx, promos map[string][]promotion, msgs []*sarama.ConsumerMessage) error {
	stored, err := e.store.lockOffsets(ctx, tx)
	if err != nil {
		return err
	}
	next := map[partitionKey]int64{}
	var events []*event.Event
	for _, m := range msgs {
		k := partitionKey{m.Topic, m.Partition}
		if off, ok := stored[k]; ok && m.Offset < off {
			e.m.skipped.WithLabelValues("already_applied").Inc()
			continue
		}
		next[k] = max(next[k], m.Offset+1)
		var ev event.Event
		if err := json.Unmarshal(m.Value, &ev); err != nil || ev.ID == "" || ev.SiteID == "" {
			e.m.skipped.WithLabelValues("undecodable").Inc()
			continue
		}
		events = append(events, &ev)
	}
	if len(next) == 0 {
		return nil
	}

	scores, links, seen := map[scoreKey]*score{}, map[link]bool{}, make([]seenEvent, 0, len(events))
	for _, ev := range events {
		seen = append(seen, seenKey(ev))
	}
	fresh := map[seenEvent]bool{}
	if len(seen) > 0 {
		if fresh, err = e.store.firstSeen(ctx, tx, seen); err != nil {
			return err
		}
	}
	applied := 0
	for _, ev := range events {
		k := seenKey(ev)
		if !fresh[k] {
			e.m.skipped.WithLabelValues("duplicate_event").Inc()
			continue
		}
		delete(fresh, k) // a second copy in this batch is a duplicate too
		applied++
		if ev.AnonymousID != "" && ev.UserID != "" {
			links[link{ev.SiteID, ev.AnonymousID, ev.UserID}] = true
		}
		e.score(scores, promos[ev.SiteID], ev)
	}
	if len(scores) > 0 {
		n, err := e.store.addScores(ctx, tx, scores, e.cfg.ScoreTTL)
		if err != nil {
			return err
		}
		e.m.scored.Add(float64(n))
	}
	if len(links) > 0 {
		if err := e.store.addLinks(ctx, tx, links); err != nil {
			return err
		}
	}
	e.m.applied.Add(float64(applied))
	return e.store.saveOffsets(ctx, tx, next)
}

// seenKey is how processed_events returns ev: PostgreSQL prints a uuid in
// lower case, whatever case the sender used.
func seenKey(ev *event.Event) seenEvent { return seenEvent{ev.SiteID, strings.ToLower(ev.ID)} }

// score adds what one event says about its visitor's interests.
func (e *Enricher) score(scores map[scoreKey]*score, promos []promotion, ev *event.Event) {
	var matched []promotion
	var weight float64
	var reason string
	switch {
	case ev.Type == event.Search && ev.Search != nil:
		matched, weight, reason = matchSearch(promos, ev.Search.Keyword), e.cfg.SearchWeight, "search:"+strings.Join(strings.Fields(strings.ToLower(ev.Search.Keyword)), " ")
	case ev.Type == event.Click && ev.Click != nil && ev.Click.Href != "":
		matched, weight, reason = matchClick(promos, ev.Click.Href), e.cfg.ClickWeight, "click:"+ev.Click.Href
	}
	at := time.UnixMilli(ev.ReceivedAt)
	for _, p := range matched {
		k := scoreKey{ev.SiteID, ev.UserKey(), p.ID}
		s := scores[k]
		if s == nil {
			s = &score{}
			scores[k] = s
		}
		s.points += weight
		if !at.Before(s.last) {
			s.reason, s.last = reason, at
		}
	}
}

type metrics struct {
	applied prometheus.Counter
	scored  prometheus.Counter
	skipped *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_enricher_events_applied_total", Help: "Events applied for the first time.",
		}),
		scored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_enricher_scores_written_total", Help: "user_promotions rows inserted or raised.",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_enricher_events_skipped_total", Help: "Messages not applied, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.applied, m.scored, m.skipped)
	return m
}
