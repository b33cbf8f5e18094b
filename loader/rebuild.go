package loader

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/privacy"
)

// RebuildRange is the whole UTC days [From, To) whose raw events, visits
// and rollups `footfall replay --rebuild clickhouse` writes again from
// Kafka (docs/operations.md, "Rebuilding ClickHouse").
type RebuildRange struct {
	From, To time.Time
	// Force allows a range that reaches into yesterday or today, where the
	// live loader and its visit lookback still write.
	Force bool
}

// Validate reports a range that is not whole days, is empty, or reaches
// into yesterday or today without Force. now is the current time.
func (r RebuildRange) Validate(now time.Time) error {
	day := func(t time.Time) bool { return t.Equal(t.UTC().Truncate(24 * time.Hour)) }
	yesterday := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	switch {
	case r.From.IsZero() || !day(r.From):
		return config.Invalid("from", r.From.Format(time.DateOnly), "a UTC day, YYYY-MM-DD")
	case r.To.IsZero() || !day(r.To):
		return config.Invalid("to", r.To.Format(time.DateOnly), "a UTC day, YYYY-MM-DD")
	case !r.From.Before(r.To):
		return config.Invalid("to", r.To.Format(time.DateOnly), "a day after --from "+r.From.Format(time.DateOnly))
	case r.To.After(yesterday) && !r.Force:
		return config.Invalid("to", r.To.Format(time.DateOnly),
			"at most "+yesterday.Format(time.DateOnly)+": the live loader still writes yesterday and today (--force to rebuild them all the same)")
	}
	return nil
}

// days are the range's days, as the events table's partition ids.
func (r RebuildRange) days() []string {
	var out []string
	for d := r.From; d.Before(r.To); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format("20060102"))
	}
	return out
}

// RebuildDeps are what a rebuild is given.
type RebuildDeps struct {
	Kafka  kafka.Config
	Client *clickhouse.Client
	Log    *slog.Logger
	// Progress, if set, is called as records are read.
	Progress func(RebuildProgress)
	// MutationWait bounds the wait for ClickHouse's deletes; 10 minutes if 0.
	MutationWait time.Duration
	// Now is the clock the range is checked against; time.Now if nil.
	Now func() time.Time
	// Suppressions leaves out forgotten visitors' events, which Kafka
	// still holds; nil reads the suppressions topic for the rebuild.
	Suppressions Suppressor
}

// RebuildProgress is where a rebuild is: Kafka records read of Total.
type RebuildProgress struct{ Done, Total int64 }

// RebuildResult is what a rebuild did.
type RebuildResult struct {
	Read    int64 // Kafka records read
	Events  int64 // events of the range handed to the sink
	Context int64 // events of the day either side handed along (see rebuildContext)
	Skipped int64 // records that are not events, or that ClickHouse can never hold
	Elapsed time.Duration
}

// rebuildBatch is how many events go to the sink at a time.
const rebuildBatch = 10000

// rebuildRetries are the pauses before a failed write of a batch is tried
// again: on a cluster with an insert quorum, ClickHouse 18.16 refuses an
// insert while another quorum insert into the table (the live loader's)
// is under way on the shard, and a replica may be restarting.
var rebuildRetries = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}

// rebuildContext is how far either side of the range events are handed to
// the sink as well: the visit lookback. They are in the events table, so
// the sink inserts none of them again; but a visit of a batch with an
// event already stored is read back from the events table rather than
// folded into its stored row. That is what puts right a visit that
// crosses a boundary of the range: its row, not dropped (it starts
// before From) or dropped (it starts inside), would otherwise get the
// re-inserted events of the range added to events it already counts, or
// lose the events past To.
const rebuildContext = visitLookback

// Rebuild drops what ClickHouse holds for the days of r and writes them
// again from Kafka through the loader's own sink, so that dedup, visits
// and the materialized views do what they do live. Run it again to resume
// or to repeat: it drops and rewrites the same days.
func Rebuild(ctx context.Context, r RebuildRange, d RebuildDeps) (RebuildResult, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	if err := r.Validate(now()); err != nil {
		return RebuildResult{}, err
	}
	start := time.Now()
	in, err := kafka.NewInspector(d.Kafka)
	if err != nil {
		return RebuildResult{}, err
	}
	defer func() { _ = in.Close() }() // read-only: nothing to lose
	// A record is timestamped when the collector produced it, after its
	// event's time less the hour of clock skew the loader allows: records
	// of the range (and of the day before it) are all at or after this.
	spans, err := in.SpansSince(r.From.Add(-rebuildContext-time.Hour), event.EventTopics(d.Kafka.TopicPrefix)...)
	if err != nil {
		return RebuildResult{}, err
	}
	sup := d.Suppressions
	if sup == nil {
		own := privacy.Follow(d.Kafka, d.Log)
		defer func() { _ = own.Close() }() // returns nothing but nil
		sup = own
	}
	if err := sup.Wait(ctx); err != nil {
		return RebuildResult{}, err
	}
	conn, err := d.Client.Conn(ctx)
	if err != nil {
		return RebuildResult{}, err
	}
	if err := drop(ctx, d.Client, conn, r, cmp.Or(d.MutationWait, 10*time.Minute), d.Log); err != nil {
		return RebuildResult{}, err
	}
	// The end is taken after the drop: whatever the live loader wrote
	// before the drop came from Kafka before now, so it is read again.
	if spans, err = in.Newest(spans); err != nil {
		return RebuildResult{}, err
	}
	var total int64
	for _, s := range spans {
		total += max(0, s.Newest-s.Oldest)
	}
	d.Log.Info("rebuilding", "from", r.From.Format(time.DateOnly), "to", r.To.Format(time.DateOnly), "records", total)
	// The day's events and visits are written again as they were: a
	// replicated table would drop a block it took before (a visit alone
	// in its block) as a retry.
	ctx = clickhouse.Rewrite(ctx)
	w := &rebuildWriter{sink: NewClickHouse(d.Client), r: r, log: d.Log, suppress: sup}
	var res RebuildResult
	report := func() {
		if d.Progress != nil {
			d.Progress(RebuildProgress{Done: res.Read, Total: total})
		}
	}
	err = in.ReadSpans(ctx, spans, func(rec kafka.Record) error {
		res.Read++
		if res.Read%1000 == 0 {
			report()
		}
		return w.add(ctx, rec)
	})
	if err == nil {
		err = w.flush(ctx)
	}
	report()
	res.Events, res.Context, res.Skipped, res.Elapsed = w.events, w.context, w.skipped, time.Since(start)
	if err != nil {
		return res, fmt.Errorf("rebuild %s to %s (run it again to resume): %w", r.From.Format(time.DateOnly), r.To.Format(time.DateOnly), err)
	}
	return res, nil
}

// rebuildWriter gathers the events of the range and its context into
// batches and writes each, in time order, through the sink.
type rebuildWriter struct {
	sink                     *ClickHouse
	r                        RebuildRange
	log                      *slog.Logger
	suppress                 Suppressor
	batch                    []*event.Event
	seen                     map[string]bool
	events, context, skipped int64
}

func (w *rebuildWriter) add(ctx context.Context, rec kafka.Record) error {
	e := new(event.Event)
	if err := event.DecodeRecord(rec.Value, e); err != nil || e.ID == "" {
		w.skipped++ // the live loader dead-lettered it
		return nil
	}
	if w.suppress.Suppressed(e.SiteID, e.AnonymousID, e.UserID) {
		w.skipped++ // a forgotten visitor's (docs/privacy.md)
		return nil
	}
	t := eventTime(e)
	if t.Before(w.r.From.Add(-rebuildContext)) || !t.Before(w.r.To.Add(rebuildContext)) {
		return nil
	}
	if w.seen == nil {
		w.seen = make(map[string]bool, rebuildBatch)
	}
	if w.seen[e.ID] { // sent twice: the sink would insert both
		return nil
	}
	w.seen[e.ID] = true
	w.batch = append(w.batch, e)
	if len(w.batch) >= rebuildBatch {
		return w.flush(ctx)
	}
	return nil
}

// flush writes the batch in time order. An event ClickHouse can never
// hold (which the live loader dead-lettered) is left out.
func (w *rebuildWriter) flush(ctx context.Context) error {
	if len(w.batch) == 0 {
		return nil
	}
	slices.SortFunc(w.batch, func(a, b *event.Event) int {
		return cmp.Or(eventTime(a).Compare(eventTime(b)), strings.Compare(a.ID, b.ID))
	})
	pauses := rebuildRetries
	for {
		err := w.sink.Write(ctx, w.batch)
		var re *RowError
		if errors.As(err, &re) && re.Row >= 0 && re.Row < len(w.batch) {
			w.log.Warn("event left out: clickhouse can never hold it", "id", w.batch[re.Row].ID, "err", re.Err)
			w.batch = slices.Delete(w.batch, re.Row, re.Row+1)
			w.skipped++
			continue
		}
		if err != nil && len(pauses) > 0 && !kafka.IsPermanent(err) && ctx.Err() == nil {
			// The sink writes nothing twice, as for the live loader's
			// redeliveries.
			w.log.Warn("write failed; trying again", "events", len(w.batch), "in", pauses[0], "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(pauses[0]):
			}
			pauses = pauses[1:]
			continue
		}
		if err != nil {
			return fmt.Errorf("write %d events: %w", len(w.batch), err)
		}
		break
	}
	for _, e := range w.batch {
		if t := eventTime(e); !t.Before(w.r.From) && t.Before(w.r.To) {
			w.events++
		} else {
			w.context++
		}
	}
	w.batch, w.seen = w.batch[:0], nil
	return nil
}

// drop removes what ClickHouse holds for the days of r: the events
// table's daily partitions, and by a delete (a mutation, which ClickHouse
// runs in the background) the visits that start in them and the rollup
// rows of their hours. It returns once every server is done with both: a
// replica still holding a dropped event or a deleted visit would have the
// rebuild skip the event, or fold the visit onto the row being deleted.
func drop(ctx context.Context, client *clickhouse.Client, conn driver.Conn, r RebuildRange, wait time.Duration, log *slog.Logger) error {
	for _, day := range r.days() {
		if err := client.Alter(ctx, conn, "events", "DROP PARTITION "+day); err != nil {
			return fmt.Errorf("drop partition %s of events: %w", day, err)
		}
	}
	if err := client.WaitDropped(ctx, conn, "events", r.days(), wait); err != nil {
		return err
	}
	span := func(col string) string {
		return fmt.Sprintf("%s >= toDateTime(%d) AND %s < toDateTime(%d)", col, r.From.Unix(), col, r.To.Unix())
	}
	deletes := []struct{ table, col string }{
		{"sessions", "start"}, {"events_hourly", "hour"}, {"sessions_hourly", "hour"},
	}
	tables := make([]string, 0, len(deletes))
	for _, del := range deletes {
		if err := client.Delete(ctx, conn, del.table, span(del.col)); err != nil {
			return err
		}
		tables = append(tables, del.table)
	}
	log.Info("dropped; waiting for the deletes", "days", r.days(), "tables", tables)
	return client.WaitMutations(ctx, conn, tables, wait)
}
