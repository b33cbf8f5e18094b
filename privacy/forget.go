package privacy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

// The stores a forget deletes from, as counts name them.
const (
	StorePostgres   = "postgresql"
	StoreClickHouse = "clickhouse"
	StoreKafka      = "kafka"
)

// Count is what a forget did to one table: rows deleted; for a rollup,
// hours recomputed; for the suppressions topic, ids suppressed.
type Count struct {
	Store string `json:"store"`
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
	Unit  string `json:"unit"`
}

// Units of a Count.
const (
	UnitRows  = "rows deleted"
	UnitHours = "hours recomputed"
	UnitIDs   = "ids suppressed"
)

// Result is what a forget did.
type Result struct {
	// AnonymousIDs is how many anonymous ids were linked to the user.
	AnonymousIDs int     `json:"anonymous_ids"`
	Counts       []Count `json:"counts"`
	// Waited is false when the forget did not wait for the consumers
	// (Options.ConsumerWait 0): their events in flight may have landed
	// after the delete.
	Waited  bool          `json:"waited"`
	Elapsed time.Duration `json:"-"`
}

// Options are a forget's settings.
type Options struct {
	// LoaderGroup and EnricherGroup are the consumer groups the forget
	// waits for.
	LoaderGroup, EnricherGroup string
	// ConsumerWait bounds the wait for them; 0 does not wait.
	ConsumerWait time.Duration
	// MutationWait bounds the wait for ClickHouse's deletes.
	MutationWait time.Duration
}

// DefaultOptions are the groups' default names and generous waits.
func DefaultOptions() Options {
	return Options{
		LoaderGroup: "footfall-loader", EnricherGroup: "footfall-enricher",
		ConsumerWait: 2 * time.Minute, MutationWait: 10 * time.Minute,
	}
}

// Deps are what a Forgetter works with.
type Deps struct {
	Kafka      kafka.Config
	Publisher  kafka.Publisher
	Pool       *pgxpool.Pool
	ClickHouse *clickhouse.Client
	// Suppressions is the set the forget reads earlier suppressions from
	// (the anonymous ids a failed forget had already found).
	Suppressions *Suppressions
	Log          *slog.Logger
}

// Forgetter forgets visitors, and lifts their suppressions.
type Forgetter struct {
	o Options
	d Deps
}

// New returns a Forgetter.
func New(o Options, d Deps) *Forgetter { return &Forgetter{o: o, d: d} }

// Step names what a forget is doing, for progress.
type Step string

// The steps of a forget, in order.
const (
	StepResolve  Step = "resolve linked anonymous ids"
	StepSuppress Step = "publish suppressions"
	StepWait     Step = "wait for the loader and the enricher"
	StepRollups  Step = "recompute rollups"
	StepPostgres Step = "delete from postgresql"
	StepCH       Step = "delete from clickhouse"
	StepVerify   Step = "verify"
)

// Steps lists them, for a progress bar.
var Steps = []Step{StepResolve, StepSuppress, StepWait, StepPostgres, StepRollups, StepCH, StepVerify}

// Progress is told each step as it starts, and what it waits for.
type Progress func(step Step, detail string)

// ErrRemains is a forget's error when rows of the visitor are still there
// after it deleted them twice.
var ErrRemains = errors.New("rows of the visitor remain")

// maxSuppressRounds bounds how often new links found while waiting start
// another round of suppressions.
const maxSuppressRounds = 5

// Forget deletes what Footfall holds about user on site and every
// anonymous id linked to it, after suppressing them all (docs/privacy.md,
// "What forget does"). It can be run again: after a failure it finishes
// the job; after a success it finds nothing and deletes nothing.
func (f *Forgetter) Forget(ctx context.Context, site, user string, progress Progress) (Result, error) {
	start := time.Now()
	if progress == nil {
		progress = func(Step, string) {}
	}
	if site == "" || user == "" {
		return Result{}, errors.New("forget needs a site and a user id")
	}
	if err := f.setReady(ctx); err != nil {
		return Result{}, err
	}
	conn, err := f.d.ClickHouse.Conn(ctx)
	if err != nil {
		return Result{}, err
	}
	var res Result
	ids := []string{user}
	published := map[string]bool{}
	for round := 0; ; round++ {
		progress(StepResolve, fmt.Sprintf("round %d", round+1))
		found, err := f.resolve(ctx, site, user)
		if err != nil {
			return res, err
		}
		var fresh []Suppression
		now := time.Now().UTC()
		if !published[user] {
			fresh = append(fresh, Suppression{Site: site, ID: user, Kind: KindUser, ForgottenAt: now})
		}
		for _, a := range found {
			if !published[a] && a != user {
				fresh = append(fresh, Suppression{Site: site, ID: a, Kind: KindAnonymous, User: user, ForgottenAt: now})
			}
		}
		if len(fresh) == 0 {
			break
		}
		if round == maxSuppressRounds {
			return res, fmt.Errorf("new anonymous ids keep appearing for the user after %d rounds; run forget again", round)
		}
		progress(StepSuppress, fmt.Sprintf("%d ids", len(fresh)))
		if err := f.publish(ctx, fresh); err != nil {
			return res, err
		}
		for _, s := range fresh {
			published[s.ID] = true
			if s.Kind == KindAnonymous {
				ids = append(ids, s.ID)
			}
		}
		if f.o.ConsumerWait <= 0 {
			break // nothing more can be learnt without the consumers
		}
		// Events that were in flight when the suppressions went out are
		// stored once the consumers pass them; they may link more
		// anonymous ids, which the next round suppresses too.
		progress(StepWait, "")
		if err := f.waitConsumers(ctx, func(lag string) { progress(StepWait, lag) }); err != nil {
			return res, err
		}
		res.Waited = true
	}
	res.AnonymousIDs = len(ids) - 1
	res.Counts = append(res.Counts, Count{Store: StoreKafka, Table: event.SuppressionsTopic(f.d.Kafka.TopicPrefix), Rows: int64(len(ids)), Unit: UnitIDs})
	subject := &chSubject{site: site, ids: ids}
	var deleted []Count
	for attempt := 1; ; attempt++ {
		counts, err := f.delete(ctx, conn, subject, progress)
		deleted = addCounts(deleted, counts)
		if err != nil {
			res.Counts = append(res.Counts, deleted...)
			return res, err
		}
		progress(StepVerify, "")
		pg, err := remainingPostgres(ctx, f.d.Pool, site, ids)
		if err != nil {
			return res, err
		}
		ch, err := remainingClickHouse(ctx, conn, subject)
		if err != nil {
			return res, err
		}
		if pg+ch == 0 {
			break
		}
		if attempt == 2 {
			res.Counts = append(res.Counts, deleted...)
			return res, fmt.Errorf("%w: %d in postgresql, %d in clickhouse; run forget again", ErrRemains, pg, ch)
		}
		// A consumer still held an event it read before its suppressions
		// (--no-wait, or a member that lagged behind its group's commit).
		f.d.Log.Warn("rows of the forgotten visitor appeared while deleting; deleting again", "postgres", pg, "clickhouse", ch)
	}
	res.Counts = append(res.Counts, deleted...)
	res.Elapsed = time.Since(start)
	f.d.Log.Info("visitor forgotten", "site", site, "anonymous_ids", res.AnonymousIDs, "elapsed", res.Elapsed)
	return res, nil
}

// delete is one pass over the stores.
func (f *Forgetter) delete(ctx context.Context, conn driver.Conn, s *chSubject, progress Progress) ([]Count, error) {
	eventIDs, err := describe(ctx, conn, s)
	if err != nil {
		return nil, err
	}
	progress(StepPostgres, "")
	out, err := deletePostgres(ctx, f.d.Pool, s.site, s.ids, eventIDs)
	if err != nil {
		return nil, err
	}
	progress(StepRollups, fmt.Sprintf("%d event hours, %d visit hours", len(s.eventHours), len(s.visitHours)))
	rolled, err := recomputeRollups(ctx, f.d.ClickHouse, conn, s, f.o.MutationWait)
	out = append(out, rolled...)
	if err != nil {
		return out, err
	}
	progress(StepCH, "")
	chCounts, err := deleteClickHouse(ctx, f.d.ClickHouse, conn, s, f.o.MutationWait)
	return append(out, chCounts...), err
}

// resolve finds the anonymous ids linked to user: by identity links, by
// events that carry both, and by earlier suppressions of this user.
func (f *Forgetter) resolve(ctx context.Context, site, user string) ([]string, error) {
	conn, err := f.d.ClickHouse.Conn(ctx)
	if err != nil {
		return nil, err
	}
	fromPG, err := resolvePostgres(ctx, f.d.Pool, site, user)
	if err != nil {
		return nil, err
	}
	fromCH, err := resolveClickHouse(ctx, conn, site, user)
	if err != nil {
		return nil, err
	}
	all := slices.Concat(fromPG, fromCH, f.d.Suppressions.AnonymousIDsOf(site, user))
	slices.Sort(all)
	return slices.Compact(all), nil
}

// publish sends suppressions and makes sure the topic is compacted.
func (f *Forgetter) publish(ctx context.Context, sups []Suppression) error {
	topic := event.SuppressionsTopic(f.d.Kafka.TopicPrefix)
	if err := kafka.SetTopicConfig(f.d.Kafka, topic, map[string]string{"cleanup.policy": "compact"}); err != nil {
		f.d.Log.Warn("could not make the suppressions topic compacted; it keeps every record until its retention", "err", err)
	}
	recs := make([]kafka.Record, len(sups))
	for i, s := range sups {
		r, err := s.record(f.d.Kafka.TopicPrefix)
		if err != nil {
			return err
		}
		recs[i] = r
	}
	if err := f.d.Publisher.Publish(ctx, recs); err != nil {
		return fmt.Errorf("publish %d suppressions: %w", len(recs), err)
	}
	return f.waitSeen(ctx, sups)
}

// waitSeen returns once the Forgetter's own set has read sups, so that a
// lift or a forget run again right after finds what this one published.
func (f *Forgetter) waitSeen(ctx context.Context, sups []Suppression) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		seen := 0
		for _, s := range sups {
			if f.d.Suppressions.Suppressed(s.Site, s.ID, "") != s.Lifted {
				seen++
			}
		}
		if seen == len(sups) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the suppressions topic did not give back %d of the %d records published: %w", len(sups)-seen, len(sups), ctx.Err())
		case <-tick.C:
		}
	}
}

// Lift ends the suppression of user on site and of the anonymous ids
// forgotten with it: their later events are taken again. Nothing deleted
// comes back. It returns how many ids it lifted.
func (f *Forgetter) Lift(ctx context.Context, site, user string) (int, error) {
	if site == "" || user == "" {
		return 0, errors.New("lift needs a site and a user id")
	}
	if err := f.setReady(ctx); err != nil {
		return 0, err
	}
	now := time.Now().UTC()
	sups := []Suppression{{Site: site, ID: user, Kind: KindUser, ForgottenAt: now, Lifted: true}}
	for _, a := range f.d.Suppressions.AnonymousIDsOf(site, user) {
		sups = append(sups, Suppression{Site: site, ID: a, Kind: KindAnonymous, User: user, ForgottenAt: now, Lifted: true})
	}
	if err := f.publish(ctx, sups); err != nil {
		return 0, err
	}
	return len(sups), nil
}

// setReady waits, for a while, until the Forgetter's set has read the
// suppressions topic: a forget must know what earlier ones suppressed.
func (f *Forgetter) setReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := f.d.Suppressions.Wait(ctx); err != nil {
		return fmt.Errorf("%w (is Kafka up, and has `footfall migrate` created %s?)", err, event.SuppressionsTopic(f.d.Kafka.TopicPrefix))
	}
	return nil
}

// addCounts sums b into a by store and table.
func addCounts(a, b []Count) []Count {
	for _, c := range b {
		i := slices.IndexFunc(a, func(x Count) bool { return x.Store == c.Store && x.Table == c.Table })
		if i < 0 {
			a = append(a, c)
			continue
		}
		if c.Unit == UnitHours {
			a[i].Rows = max(a[i].Rows, c.Rows) // the same hours again
			continue
		}
		a[i].Rows += c.Rows
	}
	slices.SortStableFunc(a, func(x, y Count) int { return cmp.Compare(storeOrder(x.Store), storeOrder(y.Store)) })
	return a
}

func storeOrder(s string) int {
	return slices.Index([]string{StoreKafka, StorePostgres, StoreClickHouse}, s)
}
