// Package enricher turns searches and clicks into per-user promotion scores
// in PostgreSQL within a fraction of a second. Each batch's scores, the ids
// of the events applied and the Kafka offsets they came from are written in
// one transaction, so a crash neither loses nor double-counts an event.
package enricher

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
)

// Config is the enricher's configuration.
type Config struct {
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
	fs.StringVar(&c.Group, "enricher-group", c.Group, "enricher consumer group id")
	c.Batch.RegisterFlags(fs, "enricher")
	fs.Float64Var(&c.SearchWeight, "enricher-search-weight", c.SearchWeight, "score a matching search adds to a promotion")
	fs.Float64Var(&c.ClickWeight, "enricher-click-weight", c.ClickWeight, "score a click on a promotion's page adds")
	fs.DurationVar(&c.ScoreTTL, "enricher-score-ttl", c.ScoreTTL, "how long a user's interest lasts after their last matching event")
	fs.DurationVar(&c.CatalogRefresh, "enricher-catalog-refresh", c.CatalogRefresh, "how often the promotions catalog is reloaded")
	fs.DurationVar(&c.DedupWindow, "enricher-dedup-window", c.DedupWindow, "how long event ids are remembered to drop resends")
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Group == "":
		return config.Invalid("enricher-group", `""`, "a consumer group id")
	case c.ScoreTTL <= 0:
		return config.Invalid("enricher-score-ttl", c.ScoreTTL, "a positive duration")
	case c.CatalogRefresh <= 0:
		return config.Invalid("enricher-catalog-refresh", c.CatalogRefresh, "a positive duration")
	case c.DedupWindow <= 0:
		return config.Invalid("enricher-dedup-window", c.DedupWindow, "a positive duration")
	}
	return c.Batch.Validate("enricher")
}

// Deps are what the enricher is given.
type Deps struct {
	Kafka kafka.Config
	Pool  *pgxpool.Pool
	// DeadLetters publishes the records the enricher can never apply.
	DeadLetters kafka.Publisher
	// Updates publishes each committed batch's changes to the
	// promotion_updates topic; nil publishes nothing.
	Updates kafka.Publisher
	Ops     *server.Ops
	Log     *slog.Logger
	// Grace bounds the last write as the enricher stops.
	Grace time.Duration
}

// Types are the event types the enricher reads: the ones that say what a
// visitor is interested in, and identify, which links devices to users.
var Types = []event.Type{event.Search, event.Click, event.Identify}

// Enricher is a consumer-group member keeping user_promotions current.
type Enricher struct {
	cfg     Config
	store   *store
	catalog *catalog
	group   *kafka.Group
	updates kafka.Publisher
	// updatesTopic is where updates go: PREFIX.promotion_updates.
	updatesTopic string
	log          *slog.Logger
	m            *metrics
	now          func() time.Time
}

// New builds an Enricher reading Types.
func New(cfg Config, d Deps) (*Enricher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Enricher{
		cfg:     cfg,
		store:   &store{pool: d.Pool, group: cfg.Group},
		catalog: &catalog{pool: d.Pool, ttl: cfg.CatalogRefresh},
		updates: d.Updates, updatesTopic: event.PromotionUpdatesTopic(d.Kafka.TopicPrefix),
		log: d.Log, m: newMetrics(d.Ops.Registry()), now: time.Now,
	}
	topics := make([]string, len(Types))
	for i, t := range Types {
		topics[i] = event.Topic(d.Kafka.TopicPrefix, t)
	}
	g, err := kafka.NewGroup(d.Kafka, kafka.GroupConfig{
		Group: cfg.Group, Topics: topics, Batch: cfg.Batch,
		DeadLetterTopic: event.DeadTopic(d.Kafka.TopicPrefix), Grace: d.Grace,
	}, e, d.DeadLetters, d.Log, d.Ops.Registry())
	if err != nil {
		return nil, err
	}
	e.group = g
	d.Ops.AddCheck("consumer-group", g.Ready)
	return e, nil
}

// Run consumes until ctx ends, and forgets old event ids once an hour.
func (e *Enricher) Run(ctx context.Context) error {
	go e.prune(ctx)
	return e.group.Run(ctx)
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

// SkipRecords implements kafka.OffsetStore: records sent to the dead-letter
// topic are consumed, so the stored offsets move past them.
func (e *Enricher) SkipRecords(ctx context.Context, recs []kafka.Record) error {
	next := map[partitionKey]int64{}
	for _, r := range recs {
		k := partitionKey{r.Topic, r.Partition}
		next[k] = max(next[k], r.Offset+1)
	}
	return pgx.BeginFunc(ctx, e.store.pool, func(tx pgx.Tx) error { return e.store.saveOffsets(ctx, tx, next) })
}

var (
	_ kafka.BatchHandler = (*Enricher)(nil)
	_ kafka.OffsetStore  = (*Enricher)(nil)
)

// HandleBatch applies a batch in one transaction. A value PostgreSQL
// refuses (a data exception such as an id that is no UUID) is permanent:
// the group isolates the record and dead-letters it; anything else (the
// database is down) is retried.
func (e *Enricher) HandleBatch(ctx context.Context, recs []kafka.Record) error {
	promos, err := e.catalog.get(ctx, e.now())
	if err != nil {
		return err
	}
	var w written
	err = pgx.BeginFunc(ctx, e.store.pool, func(tx pgx.Tx) (err error) {
		w, err = e.apply(ctx, tx, promos, recs)
		return err
	})
	if refused(err) {
		return kafka.Permanent(err)
	}
	if err != nil {
		return err
	}
	e.publishUpdates(ctx, w)
	return nil
}

// refused reports an error PostgreSQL raised over the values it was given
// (SQLSTATE class 22, data exception): retrying the same values cannot help.
func refused(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22")
}

func (e *Enricher) apply(ctx context.Context, tx pgx.Tx, promos map[string][]promotion, recs []kafka.Record) (written, error) {
	parts := batchPartitions(recs)
	if len(parts) == 0 {
		return written{}, nil
	}
	stored, err := e.store.lockOffsets(ctx, tx, parts)
	if err != nil {
		return written{}, err
	}
	next := map[partitionKey]int64{}
	var events []*event.Event
	for i, r := range recs {
		k := partitionKey{r.Topic, r.Partition}
		if off, ok := stored[k]; ok && r.Offset < off {
			e.m.skipped.WithLabelValues("already_applied").Inc()
			continue
		}
		next[k] = max(next[k], r.Offset+1)
		var ev event.Event
		if err := event.DecodeRecord(r.Value, &ev); err != nil {
			return written{}, &kafka.RecordError{Index: i, Err: fmt.Errorf("not an event: %w", err)}
		}
		if ev.ID == "" || ev.SiteID == "" {
			return written{}, &kafka.RecordError{Index: i, Err: errors.New("event without id or site_id")}
		}
		events = append(events, &ev)
	}
	if len(next) == 0 {
		return written{}, nil
	}

	// What each event would change is known before processed_events is
	// asked: an event that changes nothing (a crawler's, one about nobody
	// the enricher can trust, a search or click that matches no promotion
	// from a visitor with no vouched-for user id) is not recorded there.
	// Applied again it changes nothing again, so it needs no dedup: a
	// quarter of the benchmark's events cost no processed_events row. A
	// resend that matches a promotion added since its first copy was
	// skipped scores once, like any first copy.
	type pending struct {
		ev      *event.Event
		in      interest
		vouched bool
	}
	todo, seen := make([]pending, 0, len(events)), make([]seenEvent, 0, len(events))
	for _, ev := range events {
		if ev.Bot {
			// A crawler's searches and clicks are nobody's interests.
			e.m.skipped.WithLabelValues("bot").Inc()
			continue
		}
		if ev.UserKey() == "" {
			// A user id a browser claimed, and no device: nobody the
			// event can be trusted to be about.
			e.m.skipped.WithLabelValues("unverified_user").Inc()
			continue
		}
		// Only a user id the collector vouched for (a server key, a
		// checked identify) is linked to the device, or anyone could
		// merge their device into another shopper's promotions.
		p := pending{ev: ev, in: e.interest(promos[ev.SiteID], ev), vouched: ev.UserVerified && ev.UserID != ""}
		if len(p.in.matched) == 0 && !p.vouched {
			e.m.skipped.WithLabelValues("no_match").Inc()
			continue
		}
		todo, seen = append(todo, p), append(seen, seenKey(ev))
	}
	fresh := map[seenEvent]bool{}
	if len(seen) > 0 {
		if fresh, err = e.store.firstSeen(ctx, tx, seen); err != nil {
			return written{}, err
		}
	}
	scores, links, users := map[scoreKey]*score{}, map[link]bool{}, map[knownUser]bool{}
	applied := 0
	for _, p := range todo {
		ev := p.ev
		k := seenKey(ev)
		if !fresh[k] {
			e.m.skipped.WithLabelValues("duplicate_event").Inc()
			continue
		}
		delete(fresh, k) // a second copy in this batch is a duplicate too
		applied++
		if p.vouched {
			users[knownUser{ev.SiteID, ev.UserID}] = true
			if ev.AnonymousID != "" {
				links[link{ev.SiteID, ev.AnonymousID, ev.UserID}] = true
			}
		}
		p.in.addTo(scores, ev)
	}
	w, err := e.store.write(ctx, tx, changes{scores: scores, links: links, users: users, next: next}, e.cfg.ScoreTTL)
	if err != nil {
		return written{}, err
	}
	n := 0
	for _, rows := range w.scores {
		n += len(rows)
	}
	e.m.scored.Add(float64(n))
	e.m.applied.Add(float64(applied))
	return w, nil
}

// batchPartitions returns each partition recs come from, once.
func batchPartitions(recs []kafka.Record) []partitionKey {
	var parts []partitionKey
	seen := map[partitionKey]bool{}
	for _, r := range recs {
		if k := (partitionKey{r.Topic, r.Partition}); !seen[k] {
			seen[k] = true
			parts = append(parts, k)
		}
	}
	return parts
}

// seenKey is how processed_events returns ev: PostgreSQL prints a uuid in
// lower case, whatever case the sender used.
func seenKey(ev *event.Event) seenEvent { return seenEvent{ev.SiteID, strings.ToLower(ev.ID)} }

// interest is what one event says about its visitor: the promotions it
// matched, the points each gets, and why.
type interest struct {
	matched []promotion
	weight  float64
	reason  string
}

// interest matches ev against its site's promotions.
func (e *Enricher) interest(promos []promotion, ev *event.Event) interest {
	switch {
	case ev.Type == event.Search && ev.Search != nil:
		return interest{matchSearch(promos, ev.Search.Keyword), e.cfg.SearchWeight, "search:" + strings.Join(strings.Fields(strings.ToLower(ev.Search.Keyword)), " ")}
	case ev.Type == event.Click && ev.Click != nil && ev.Click.Href != "":
		return interest{matchClick(promos, ev.Click.Href), e.cfg.ClickWeight, "click:" + ev.Click.Href}
	}
	return interest{}
}

// addTo adds in to ev's visitor's scores.
func (in interest) addTo(scores map[scoreKey]*score, ev *event.Event) {
	at := time.UnixMilli(ev.ReceivedAt)
	for _, p := range in.matched {
		k := scoreKey{ev.SiteID, ev.UserKey(), p.ID}
		s := scores[k]
		if s == nil {
			s = &score{}
			scores[k] = s
		}
		s.points += in.weight
		if !at.Before(s.last) {
			s.reason, s.last = in.reason, at
		}
	}
}

type metrics struct {
	applied prometheus.Counter
	scored  prometheus.Counter
	skipped *prometheus.CounterVec
	// updates and updatesFailed count promotion_updates records.
	updates       prometheus.Counter
	updatesFailed prometheus.Counter
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
	m.updates = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "footfall_enricher_updates_published_total", Help: "promotion_updates records published after their batch committed.",
	})
	m.updatesFailed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "footfall_enricher_updates_failed_total", Help: "promotion_updates records not published; readers catch up from PostgreSQL.",
	})
	reg.MustRegister(m.applied, m.scored, m.skipped, m.updates, m.updatesFailed)
	return m
}
