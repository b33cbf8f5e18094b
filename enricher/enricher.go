// Package enricher turns searches, clicks and product views into per-user
// promotion scores in PostgreSQL within a fraction of a second, under each
// site's rules (rules.go). Each batch's scores, the ids
// of the events applied and the Kafka offsets they came from are written in
// one transaction, so a crash neither loses nor double-counts an event.
package enricher

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/pgoffsets"
	"github.com/footfall/footfall/internal/server"
)

// Config is the enricher's configuration.
type Config struct {
	Group string
	Batch kafka.BatchPolicy
	// Weights, the half-life and the score cap are data, per site, in
	// rule_sets (migration 0004): the promotions API decays scores by the
	// same half-life, and a change is versioned and replayable.
	ScoreTTL       time.Duration
	CatalogRefresh time.Duration
	DedupWindow    time.Duration
}

// DefaultConfig favours latency: small batches, written within 50 ms.
func DefaultConfig() Config {
	return Config{
		Group:          "footfall-enricher",
		Batch:          kafka.BatchPolicy{Count: 1000, Bytes: 4 << 20, Age: 50 * time.Millisecond},
		ScoreTTL:       30 * 24 * time.Hour,
		CatalogRefresh: 10 * time.Second,
		DedupWindow:    7 * 24 * time.Hour,
	}
}

// RegisterFlags binds c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Group, "enricher-group", c.Group, "enricher consumer group id")
	c.Batch.RegisterFlags(fs, "enricher")
	fs.DurationVar(&c.ScoreTTL, "enricher-score-ttl", c.ScoreTTL, "how long a user's interest lasts after their last matching event; expired rows are deleted hourly (weights, half-life and score cap are per site in the rule_sets table)")
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
	// Suppressions drops the events of forgotten visitors (suppress.go);
	// nil drops none.
	Suppressions Suppressor
}

// Types are the event types the enricher reads: the ones that say what a
// visitor is interested in (a page view of a product page, through its
// category), and identify, which links devices to users. Page views are
// the most numerous; one that matches no product page changes nothing and
// costs no write.
var Types = []event.Type{event.Search, event.Click, event.Pageview, event.Identify}

// Enricher is a consumer-group member keeping user_promotions current.
type Enricher struct {
	cfg   Config
	store *store
	// replay is set for a replay's enricher (replay.go): it writes
	// scores only, into shadow tables, and publishes nothing.
	replay  bool
	catalog *catalog
	group   *kafka.Group
	updates kafka.Publisher
	// updatesTopic is where updates go: PREFIX.promotion_updates.
	updatesTopic string
	log          *slog.Logger
	m            *metrics
	now          func() time.Time
	suppress     Suppressor
}

// New builds an Enricher reading Types.
func New(cfg Config, d Deps) (*Enricher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Enricher{
		cfg:     cfg,
		store:   newStore(d.Pool, cfg.Group, liveTables),
		catalog: &catalog{pool: d.Pool, ttl: cfg.CatalogRefresh},
		updates: d.Updates, updatesTopic: event.PromotionUpdatesTopic(d.Kafka.TopicPrefix),
		log: d.Log, m: newMetrics(d.Ops.Registry()), now: time.Now, suppress: d.Suppressions,
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

// Run consumes until ctx ends, and once an hour forgets old event ids and
// deletes expired scores.
func (e *Enricher) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.prune(ctx)
	}()
	err := e.group.Run(ctx)
	<-done
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
		if n, err := e.store.pruneExpired(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("prune expired scores", "err", err)
		} else if n > 0 {
			e.m.expiredPruned.Add(float64(n))
			e.log.Info("pruned expired scores", "rows", n)
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
	return pgoffsets.Next(ctx, e.store.pool, e.store.group, topic)
}

// SkipRecords implements kafka.OffsetStore: records sent to the dead-letter
// topic are consumed, so the stored offsets move past them.
func (e *Enricher) SkipRecords(ctx context.Context, recs []kafka.Record) error {
	next := pgoffsets.After(recs)
	return pgx.BeginFunc(ctx, e.store.pool, func(tx pgx.Tx) error { return pgoffsets.Save(ctx, tx, e.store.group, next) })
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
	if err := e.waitSuppressions(ctx); err != nil {
		return err
	}
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
	if !e.replay {
		e.publishUpdates(ctx, w)
	}
	return nil
}

// refused reports an error PostgreSQL raised over the values it was given
// (SQLSTATE class 22, data exception): retrying the same values cannot help.
func refused(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22")
}

func (e *Enricher) apply(ctx context.Context, tx pgx.Tx, promos sites, recs []kafka.Record) (written, error) {
	parts := pgoffsets.Partitions(recs)
	if len(parts) == 0 {
		return written{}, nil
	}
	stored, err := pgoffsets.Lock(ctx, tx, e.store.group, parts)
	if err != nil {
		return written{}, err
	}
	next := map[pgoffsets.Partition]int64{}
	var events []*event.Event
	for i, r := range recs {
		k := pgoffsets.Partition{Topic: r.Topic, Partition: r.Partition}
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
		if e.suppressed(&ev) {
			continue
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
		p := pending{ev: ev, in: interestOf(promos.of(ev.SiteID), ev), vouched: !e.replay && ev.UserVerified && ev.UserID != ""}
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

// seenKey is how processed_events returns ev: PostgreSQL prints a uuid in
// lower case, whatever case the sender used.
func seenKey(ev *event.Event) seenEvent { return seenEvent{ev.SiteID, strings.ToLower(ev.ID)} }

// interest is what one event says about its visitor: the promotions it
// matched, the points each gets, why, and the rules that said so.
type interest struct {
	matched []promotion
	weight  float64
	reason  string
	rules   rules
}

// interestOf matches ev against its site's promotions and rules.
func interestOf(s *site, ev *event.Event) interest {
	in := interest{rules: s.rules}
	switch {
	case ev.Type == event.Search && ev.Search != nil:
		in.matched, in.weight = matchSearch(s, ev.Search.Keyword), s.rules.searchWeight
		in.reason = "search:" + strings.Join(strings.Fields(strings.ToLower(ev.Search.Keyword)), " ")
	case ev.Type == event.Click && ev.Click != nil && ev.Click.Href != "":
		in.matched, in.weight, in.reason = matchClick(s, ev.Click.Href), s.rules.clickWeight, "click:"+ev.Click.Href
	case ev.Type == event.Pageview && ev.Page != nil && len(s.pages) > 0:
		u := cmp.Or(ev.Page.URL, ev.Page.Path)
		if in.matched = matchView(s, u); len(in.matched) > 0 {
			p, _ := pageOf(u)
			in.weight, in.reason = s.rules.viewWeight, "view:"+p.String()
		}
	}
	if in.weight == 0 {
		in.matched = nil // a signal the site weighs at nothing changes nothing
	}
	return in
}

// addTo adds in to ev's visitor's scores, as upsertScores adds a batch's
// to the table: the sum decayed to the later event's time, capped.
func (in interest) addTo(scores map[scoreKey]*score, ev *event.Event) {
	at := time.UnixMilli(ev.ReceivedAt)
	for _, p := range in.matched {
		k := scoreKey{ev.SiteID, ev.UserKey(), p.ID}
		s := scores[k]
		if s == nil {
			scores[k] = &score{points: min(in.weight, in.rules.maxScore), reason: in.reason, last: at, rules: in.rules}
			continue
		}
		s.points = min(in.rules.maxScore, Decayed(s.points, s.last, at, in.rules.halfLife)+Decayed(in.weight, at, s.last, in.rules.halfLife))
		s.rules = in.rules
		if !at.Before(s.last) {
			s.reason, s.last = in.reason, at
		}
	}
}

// Decayed is score, worth that much at from, as it is worth at to after
// halving every halfLife seconds; never more (a to before from keeps it).
// It is the SQL function decayed (migration 0004): the promotions view
// ranks with it as the promotions API's SQL ranks with decayed.
func Decayed(score float64, from, to time.Time, halfLife float64) float64 {
	d := to.Sub(from).Seconds()
	if d <= 0 || halfLife <= 0 { // no half-life: an update from before 0004
		return score
	}
	return score * math.Pow(0.5, d/halfLife)
}

type metrics struct {
	applied prometheus.Counter
	scored  prometheus.Counter
	skipped *prometheus.CounterVec
	// updates and updatesFailed count promotion_updates records.
	updates       prometheus.Counter
	updatesFailed prometheus.Counter
	// expiredPruned counts the expired user_promotions rows deleted.
	expiredPruned prometheus.Counter
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
	m.expiredPruned = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "footfall_enricher_expired_pruned_total", Help: "Expired user_promotions rows deleted by the periodic prune.",
	})
	reg.MustRegister(m.applied, m.scored, m.skipped, m.updates, m.updatesFailed, m.expiredPruned)
	return m
}
