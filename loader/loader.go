// Package loader copies every event from Kafka into ClickHouse in large
// batches. Offsets are committed only after ClickHouse took the batch; a
// batch delivered twice (crash before commit, replay) folds into one row per
// id because the events table is a ReplacingMergeTree keyed on it.
package loader

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
)

// Config is the loader's configuration.
type Config struct {
	Addr  string
	Group string
	Batch kafka.BatchPolicy
}

// DefaultConfig batches big: ClickHouse wants few large inserts.
func DefaultConfig() Config {
	return Config{
		Addr:  "127.0.0.1:8083",
		Group: "footfall-loader",
		Batch: kafka.BatchPolicy{Count: 10000, Bytes: 16 << 20, Age: time.Second},
	}
}

// RegisterFlags binds c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "loader-addr", c.Addr, "loader health and metrics listen address")
	fs.StringVar(&c.Group, "loader-group", c.Group, "loader consumer group id")
	c.Batch.RegisterFlags(fs, "loader")
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error { return c.Batch.Validate() }

// Sink is where batches of events go.
type Sink interface {
	Write(ctx context.Context, events []*event.Event) error
}

// Loader is a consumer-group member feeding a Sink.
type Loader struct {
	cfg   Config
	sink  Sink
	log   *slog.Logger
	ops   *server.Ops
	group *kafka.Group
	m     *metrics
}

// New builds a Loader reading every event topic under kc's prefix.
func New(cfg Config, kc kafka.Config, sink Sink, ops *server.Ops, log *slog.Logger) (*Loader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Loader{cfg: cfg, sink: sink, log: log, ops: ops, m: newMetrics(ops.Registry())}
	topics := make([]string, 0, len(event.Types))
	for _, t := range event.Types {
		topics = append(topics, event.Topic(kc.TopicPrefix, t))
	}
	g, err := kafka.NewGroup(kc, kafka.GroupConfig{Group: cfg.Group, Topics: topics, Batch: cfg.Batch}, l, log, ops.Registry())
	if err != nil {
		return nil, err
	}
	l.group = g
	ops.AddCheck("kafka", g.Ready)
	return l, nil
}

// Run consumes until ctx ends, serving health and metrics beside.
func (l *Loader) Run(ctx context.Context, ready func(net.Addr)) error {
	errc := make(chan error, 1)
	hctx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	go func() { errc <- server.Run(hctx, l.log, l.cfg.Addr, l.ops.Handler(), 5*time.Second, ready) }()
	go func() {
		<-ctx.Done()
		l.ops.Drain()
	}()
	err := l.group.Run(ctx)
	stopHTTP() // metrics and health last
	if herr := <-errc; err == nil {
		err = herr
	}
	return err
}

// HandleBatch decodes, deduplicates by id within the batch and writes.
// A message that is not an event can never load; it is counted and
// skipped rather than allowed to stall the partition.
func (l *Loader) HandleBatch(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
	seen := make(map[string]bool, len(msgs))
	events := make([]*event.Event, 0, len(msgs))
	for _, m := range msgs {
		var e event.Event
		if err := json.Unmarshal(m.Value, &e); err != nil || e.ID == "" {
			l.m.skipped.WithLabelValues("undecodable").Inc()
			l.log.Warn("skip undecodable message", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset)
			continue
		}
		if seen[e.ID] {
			l.m.skipped.WithLabelValues("duplicate_in_batch").Inc()
			continue
		}
		seen[e.ID] = true
		events = append(events, &e)
	}
	if len(events) == 0 {
		return nil
	}
	if err := l.sink.Write(ctx, events); err != nil {
		return fmt.Errorf("write %d events: %w", len(events), err)
	}
	l.m.loaded.Add(float64(len(events)))
	return nil
}

var _ kafka.BatchHandler = (*Loader)(nil)

type metrics struct {
	loaded  prometheus.Counter
	skipped *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		loaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_loader_events_loaded_total", Help: "Events written to ClickHouse.",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_loader_messages_skipped_total", Help: "Messages not written, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.loaded, m.skipped)
	return m
}
