package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
)

// BatchHandler writes one batch of messages. Returning nil promises that
// every message's effect is durable: only then are their offsets committed.
// A handler must make its writes idempotent, because a crash between the
// write and the commit delivers the batch again.
type BatchHandler interface {
	HandleBatch(ctx context.Context, msgs []*sarama.ConsumerMessage) error
}

// OffsetStore is implemented by handlers that store offsets in the same
// transaction as their writes. The group then resumes each partition from
// the stored offset instead of Kafka's committed one.
type OffsetStore interface {
	// NextOffsets returns, per partition of topic, the next offset to read.
	NextOffsets(ctx context.Context, topic string) (map[int32]int64, error)
}

// GroupConfig names the group, its topics and its batching.
type GroupConfig struct {
	Group  string
	Topics []string
	Batch  BatchPolicy
	// Grace bounds the last write of the batch in hand once the session
	// ends (shutdown or rebalance).
	Grace time.Duration
}

// Group is a consumer-group member that hands its messages to a
// BatchHandler in batches and commits after each successful write.
type Group struct {
	kc      Config
	gc      GroupConfig
	handler BatchHandler
	log     *slog.Logger
	m       *groupMetrics
	joined  atomic.Bool
}

// NewGroup builds a Group; Run joins it.
func NewGroup(kc Config, gc GroupConfig, h BatchHandler, log *slog.Logger, reg prometheus.Registerer) (*Group, error) {
	if err := gc.Batch.Validate(); err != nil {
		return nil, err
	}
	if gc.Grace <= 0 {
		gc.Grace = 10 * time.Second
	}
	return &Group{kc: kc, gc: gc, handler: h, log: log, m: newGroupMetrics(reg, gc.Group)}, nil
}

// Ready reports whether the member currently holds a session.
func (g *Group) Ready(context.Context) error {
	if !g.joined.Load() {
		return errors.New("not in a consumer group session")
	}
	return nil
}

// Run consumes until ctx ends, then finishes the batch in hand, commits and
// leaves the group, so no ghost member holds partitions.
func (g *Group) Run(ctx context.Context) error {
	sc, err := g.kc.sarama("footfall-" + g.gc.Group)
	if err != nil {
		return err
	}
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest // a new group reads all history
	sc.Consumer.Offsets.AutoCommit.Enable = false     // commit only after writes
	sc.Consumer.Return.Errors = true
	sc.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategySticky()}
	sc.Consumer.Fetch.Default = 1 << 20
	cg, err := sarama.NewConsumerGroup(g.kc.Brokers, g.gc.Group, sc)
	if err != nil {
		return fmt.Errorf("join consumer group %s: %w", g.gc.Group, err)
	}
	go func() {
		for err := range cg.Errors() {
			g.log.Warn("consumer group error", "err", err)
		}
	}()
	backoff := newBackoff(200*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		err := cg.Consume(ctx, g.gc.Topics, &session{g: g})
		if err == nil {
			backoff.reset()
			continue
		}
		if errors.Is(err, sarama.ErrClosedConsumerGroup) {
			break
		}
		g.log.Warn("consume", "err", err)
		if !backoff.wait(ctx) {
			break
		}
	}
	if err := cg.Close(); err != nil {
		return fmt.Errorf("leave consumer group %s: %w", g.gc.Group, err)
	}
	g.log.Info("left consumer group", "group", g.gc.Group)
	return nil
}

// backoff doubles a wait up to a ceiling.
type backoff struct{ first, max, next time.Duration }

func newBackoff(first, max time.Duration) *backoff { return &backoff{first, max, first} }

func (b *backoff) reset() { b.next = b.first }

// wait sleeps for the next interval or until ctx ends; false means ctx ended.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, b.max)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
