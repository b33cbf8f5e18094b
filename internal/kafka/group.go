package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
)

// BatchHandler writes one batch of records. Returning nil promises that
// every record's effect is durable: only then are their offsets committed.
// A handler must make its writes idempotent, because a crash between the
// write and the commit delivers the batch again.
//
// An error is transient (the database is down: the batch is retried, and
// consumption pauses meanwhile) unless the handler wraps it with
// Permanent: then the batch is split until the records at fault are found,
// and each goes to the dead-letter topic with the reason.
type BatchHandler interface {
	HandleBatch(ctx context.Context, recs []Record) error
}

// OffsetStore is implemented by handlers that store offsets in the same
// transaction as their writes. The group then resumes each partition from
// exactly the stored offset, whether Kafka's committed offset is ahead of
// it, behind it or missing.
type OffsetStore interface {
	// NextOffsets returns, per partition of topic, the next offset to read.
	NextOffsets(ctx context.Context, topic string) (map[int32]int64, error)
	// SkipRecords stores that recs were consumed without effect (they went
	// to the dead-letter topic), so a restart does not read them again.
	SkipRecords(ctx context.Context, recs []Record) error
}

// GroupConfig names the group, its topics, its batching and where records
// that can never be written go.
type GroupConfig struct {
	Group  string
	Topics []string
	Batch  BatchPolicy
	// DeadLetterTopic receives the records a handler refused permanently.
	DeadLetterTopic string
	// Grace bounds the last write of the batch in hand once the session
	// ends (shutdown or rebalance).
	Grace time.Duration
	// CoPartitioned gives each member the same partition numbers of every
	// topic (Kafka's range assignor) instead of a sticky spread. The
	// producer keys a visitor's events of every type to one partition
	// number, so with topics of equal partition counts one member holds
	// all of a visitor's events: the loader folds visits on that. The
	// price is a full reassignment at every rebalance.
	CoPartitioned bool
}

// Group is a consumer-group member that hands its records to a
// BatchHandler in batches and commits after each successful write. It
// keeps trying to join while no broker answers.
type Group struct {
	kc      Config
	gc      GroupConfig
	handler BatchHandler
	dead    Publisher
	log     *slog.Logger
	m       *groupMetrics

	mu     sync.Mutex
	joined bool
	err    error // why the member holds no session
}

// NewGroup builds a Group; Run joins it. dead publishes dead letters.
func NewGroup(kc Config, gc GroupConfig, h BatchHandler, dead Publisher, log *slog.Logger, reg prometheus.Registerer) (*Group, error) {
	if err := gc.Batch.Validate(gc.Group); err != nil {
		return nil, err
	}
	if gc.DeadLetterTopic == "" || dead == nil {
		return nil, fmt.Errorf("group %s: a dead-letter topic and publisher are required", gc.Group)
	}
	if gc.Grace <= 0 {
		gc.Grace = 10 * time.Second
	}
	return &Group{
		kc: kc, gc: gc, handler: h, dead: dead, log: log,
		m: newGroupMetrics(reg, gc.Group), err: errors.New("not joined yet"),
	}, nil
}

// Ready reports whether the member currently holds a session, and why not.
func (g *Group) Ready(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.joined {
		return fmt.Errorf("not in consumer group %s: %w", g.gc.Group, g.err)
	}
	return nil
}

func (g *Group) setJoined(joined bool, why error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.joined = joined
	if why != nil {
		g.err = why
	}
}

// Run consumes until ctx ends, then finishes the batch in hand, commits and
// leaves the group, so no ghost member holds partitions.
func (g *Group) Run(ctx context.Context) error {
	sc, err := g.kc.sarama(g.gc.Group)
	if err != nil {
		return err
	}
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest // a new group reads all history
	sc.Consumer.Offsets.AutoCommit.Enable = false     // commit only after writes
	sc.Consumer.Return.Errors = true
	sc.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategySticky()}
	if g.gc.CoPartitioned {
		sc.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	}
	sc.Consumer.Fetch.Default = 1 << 20

	backoff := newBackoff(200*time.Millisecond, 5*time.Second)
	var cg sarama.ConsumerGroup
	for cg == nil {
		if cg, err = sarama.NewConsumerGroup(g.kc.Brokers, g.gc.Group, sc); err != nil {
			g.setJoined(false, fmt.Errorf("connect to %v: %w", []string(g.kc.Brokers), err))
			g.log.Warn("kafka unreachable; retrying", "group", g.gc.Group, "err", err)
			if !backoff.wait(ctx) {
				return nil
			}
		}
	}
	go func() {
		for err := range cg.Errors() {
			g.log.Warn("consumer group error", "group", g.gc.Group, "err", err)
		}
	}()
	backoff.reset()
	for ctx.Err() == nil {
		err := cg.Consume(ctx, g.gc.Topics, &session{g: g})
		if err == nil {
			backoff.reset()
			continue
		}
		if errors.Is(err, sarama.ErrClosedConsumerGroup) {
			break
		}
		g.setJoined(false, err)
		g.log.Warn("consume", "group", g.gc.Group, "err", err)
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

// permanent marks an error that retrying cannot cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that retrying the same records cannot cure (a
// value the database refuses), so the group isolates the records at fault
// and dead-letters them instead of retrying for ever.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked by
// Permanent or is a RecordError.
func IsPermanent(err error) bool {
	var p permanent
	var r *RecordError
	return errors.As(err, &p) || errors.As(err, &r)
}

// RecordError is a handler's word that one record of the batch can never
// be written (it does not decode, a value is out of range) and that it
// wrote nothing of the batch. The group dead-letters that record and hands
// the others back. It is permanent.
type RecordError struct {
	Index int // in the batch handed to HandleBatch
	Err   error
}

func (e *RecordError) Error() string { return fmt.Sprintf("record %d: %v", e.Index, e.Err) }
func (e *RecordError) Unwrap() error { return e.Err }

// backoff doubles a wait up to a ceiling.
type backoff struct{ first, max, next time.Duration }

func newBackoff(first, max time.Duration) *backoff { return &backoff{first, max, first} }

func (b *backoff) reset() { b.next = b.first }

// wait sleeps for the next interval or until ctx ends; false means ctx ended.
func (b *backoff) wait(ctx context.Context) bool { return b.sleep(ctx.Done()) }

// sleep sleeps for the next interval or until stop closes; false means stop.
func (b *backoff) sleep(stop <-chan struct{}) bool {
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, b.max)
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}
