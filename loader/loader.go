// Package loader copies every event from Kafka into ClickHouse in large
// batches. Offsets are committed only after ClickHouse took the batch; a
// batch delivered twice (crash before commit, replay) folds into one row per
// id because the events table is a ReplacingMergeTree keyed on it.
package loader

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
)

// Config is the loader's configuration.
type Config struct {
	Group     string
	Batch     kafka.BatchPolicy
	Retention Retention
}

// DefaultConfig batches big: ClickHouse wants few large inserts.
func DefaultConfig() Config {
	return Config{
		Group: "footfall-loader",
		Batch: kafka.BatchPolicy{Count: 10000, Bytes: 16 << 20, Age: time.Second},
		// Logs are for finding out what went wrong lately; a month is what
		// hosted log tools keep by default. Events are kept until told.
		Retention: Retention{LogsDays: 30},
	}
}

// RegisterFlags binds c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Group, "loader-group", c.Group, "loader consumer group id")
	c.Batch.RegisterFlags(fs, "loader")
	fs.IntVar(&c.Retention.RawDays, "loader-retention-days", c.Retention.RawDays, "drop raw events (whole days) and visits (whole months) older than this many days; 0 keeps them")
	fs.IntVar(&c.Retention.RollupDays, "loader-rollup-retention-days", c.Retention.RollupDays, "drop the hourly rollups (whole months) older than this many days; 0 keeps them")
	fs.IntVar(&c.Retention.LogsDays, "loader-logs-retention-days", c.Retention.LogsDays, "drop log records (whole days) older than this many days; 0 keeps them")
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Group == "":
		return config.Invalid("loader-group", `""`, "a consumer group id")
	case c.Retention.RawDays < 0:
		return config.Invalid("loader-retention-days", c.Retention.RawDays, "0 (keep) or more days")
	case c.Retention.RollupDays < 0:
		return config.Invalid("loader-rollup-retention-days", c.Retention.RollupDays, "0 (keep) or more days")
	case c.Retention.LogsDays < 0:
		return config.Invalid("loader-logs-retention-days", c.Retention.LogsDays, "0 (keep) or more days")
	}
	return c.Batch.Validate("loader")
}

// Sink is where batches of events go. An error that a *RowError wraps
// names the one event that can never be written.
type Sink interface {
	Write(ctx context.Context, events []*event.Event) error
}

// RowError is a sink's word that events[Row] can never be written and that
// nothing of the batch was.
type RowError struct {
	Row int
	Err error
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %v", e.Row, e.Err) }
func (e *RowError) Unwrap() error { return e.Err }

// Deps are what the loader is given.
type Deps struct {
	Kafka kafka.Config
	Sink  Sink
	// Logs, when set, is where the logs topic goes; without it the
	// loader does not read that topic.
	Logs LogSink
	// DeadLetters publishes the records that can never load.
	DeadLetters kafka.Publisher
	Ops         *server.Ops
	Log         *slog.Logger
	// Grace bounds the last write as the loader stops.
	Grace time.Duration
	// Suppressions drops the events of forgotten visitors (suppress.go);
	// nil drops none.
	Suppressions Suppressor
}

// Loader is a consumer-group member feeding a Sink.
type Loader struct {
	cfg  Config
	sink Sink
	logs LogSink
	// logsTopic is the topic whose records go to logs.
	logsTopic string
	log       *slog.Logger
	group     *kafka.Group
	m         *metrics
	suppress  Suppressor
}

// New builds a Loader reading every event topic under the Kafka prefix.
func New(cfg Config, d Deps) (*Loader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Loader{cfg: cfg, sink: d.Sink, logs: d.Logs, log: d.Log, m: newMetrics(d.Ops.Registry()), suppress: d.Suppressions}
	topics := event.EventTopics(d.Kafka.TopicPrefix)
	if l.logs != nil {
		l.logsTopic = event.LogsTopic(d.Kafka.TopicPrefix)
		topics = append(topics, l.logsTopic)
	}
	g, err := kafka.NewGroup(d.Kafka, kafka.GroupConfig{
		Group: cfg.Group, Topics: topics, Batch: cfg.Batch,
		DeadLetterTopic: event.DeadTopic(d.Kafka.TopicPrefix), Grace: d.Grace,
		// A visit's events travel on one topic a type: one member must
		// hold them all to fold the visit (see GroupConfig).
		CoPartitioned: true,
	}, l, d.DeadLetters, d.Log, d.Ops.Registry())
	if err != nil {
		return nil, err
	}
	l.group = g
	d.Ops.AddCheck("consumer-group", g.Ready)
	return l, nil
}

// Run consumes until ctx ends and, if a retention is set and the sink
// keeps one, drops expired partitions at start and hourly.
func (l *Loader) Run(ctx context.Context) error {
	if r, ok := l.sink.(retainer); ok && l.cfg.Retention.any() {
		go l.retain(ctx, r)
	}
	return l.group.Run(ctx)
}

// retainer is a sink that can drop what is past its retention.
type retainer interface {
	DropExpired(ctx context.Context, now time.Time, r Retention) ([]string, error)
}

func (l *Loader) retain(ctx context.Context, r retainer) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		dropped, err := r.DropExpired(ctx, time.Now(), l.cfg.Retention)
		switch {
		case err != nil && ctx.Err() == nil:
			l.log.Warn("drop expired partitions", "err", err)
		case len(dropped) > 0:
			l.log.Info("dropped expired partitions", "partitions", dropped)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// HandleBatch routes a batch by topic: log records to the log sink
// (logs.go), events to handleEvents. Events go first: a retry of the batch
// after the logs failed writes no event twice.
func (l *Loader) HandleBatch(ctx context.Context, recs []kafka.Record) error {
	if l.logs == nil {
		return l.handleEvents(ctx, recs)
	}
	logs, events, logsAt, eventsAt := split(recs, l.logsTopic)
	if len(logs) == 0 {
		return l.handleEvents(ctx, recs)
	}
	if len(events) > 0 {
		if err := l.handleEvents(ctx, events); err != nil {
			return reindex(err, eventsAt)
		}
	}
	return reindex(l.handleLogs(ctx, logs), logsAt)
}

// handleEvents decodes, deduplicates by id within the batch and writes. A
// record that is not an event, or a row the sink can never write, is
// handed back to the group by index to be dead-lettered.
func (l *Loader) handleEvents(ctx context.Context, recs []kafka.Record) error {
	decoded, err := decode(recs)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(recs))
	events := make([]*event.Event, 0, len(recs))
	from := make([]int, 0, len(recs)) // events[i] came from recs[from[i]]
	for i := range decoded {
		e := &decoded[i]
		if seen[e.ID] {
			l.m.skipped.WithLabelValues("duplicate_in_batch").Inc()
			continue
		}
		seen[e.ID] = true
		events, from = append(events, e), append(from, i)
	}
	if events, from, err = l.dropSuppressed(ctx, events, from); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	if err := l.sink.Write(ctx, events); err != nil {
		var re *RowError
		if errors.As(err, &re) && re.Row >= 0 && re.Row < len(from) {
			return &kafka.RecordError{Index: from[re.Row], Err: re.Err}
		}
		return fmt.Errorf("write %d events: %w", len(events), err)
	}
	l.m.loaded.Add(float64(len(events)))
	return nil
}

// decodeShare is the fewest records worth a goroutine of their own.
const decodeShare = 512

// decode decodes every record, on every CPU: decoding JSON is most of the
// loader's own work, and ClickHouse waits for it. The error is the
// *kafka.RecordError of the first record, in batch order, that is not an
// event.
func decode(recs []kafka.Record) ([]event.Event, error) {
	out := make([]event.Event, len(recs))
	parts := min(runtime.GOMAXPROCS(0), (len(recs)+decodeShare-1)/decodeShare)
	if parts <= 1 {
		if err := decodeRange(recs, out, 0, len(recs)); err != nil {
			return nil, err
		}
		return out, nil
	}
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = decodeRange(recs, out, p*len(recs)/parts, (p+1)*len(recs)/parts)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeRange decodes recs[lo:hi] into out[lo:hi] and stops at the first
// record that is not an event.
func decodeRange(recs []kafka.Record, out []event.Event, lo, hi int) error {
	for i := lo; i < hi; i++ {
		if err := event.DecodeRecord(recs[i].Value, &out[i]); err != nil {
			return &kafka.RecordError{Index: i, Err: fmt.Errorf("not an event: %w", err)}
		}
		if out[i].ID == "" {
			return &kafka.RecordError{Index: i, Err: errors.New("event without id")}
		}
	}
	return nil
}

var _ kafka.BatchHandler = (*Loader)(nil)

type metrics struct {
	loaded     prometheus.Counter
	logsLoaded prometheus.Counter
	skipped    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		loaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_loader_events_loaded_total", Help: "Events written to ClickHouse.",
		}),
		logsLoaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_loader_log_records_loaded_total", Help: "Log records written to ClickHouse.",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_loader_messages_skipped_total", Help: "Messages not written, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.loaded, m.logsLoaded, m.skipped)
	return m
}
