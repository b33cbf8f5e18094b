package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// Tail reads every partition of a topic from offsets its caller chose,
// outside any consumer group: each reader sees every record, and keeps no
// offsets in Kafka. It is how a process keeps an in-memory copy of state
// whose changes go out on a topic (the promotions view): the copy is
// loaded from the database, then the topic is read from the offsets taken
// before the load.
type Tail struct {
	client   sarama.Client
	consumer sarama.Consumer
	log      *slog.Logger
}

// NewTail connects to c's brokers.
func NewTail(c Config, clientID string, log *slog.Logger) (*Tail, error) {
	sc, err := c.sarama(clientID)
	if err != nil {
		return nil, err
	}
	sc.Consumer.Return.Errors = true
	// A fetch returns as soon as a record is there; this only bounds the
	// broker's wait when there is none.
	sc.Consumer.MaxWaitTime = 100 * time.Millisecond
	client, err := sarama.NewClient(c.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("connect to %v: %w", []string(c.Brokers), err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("consumer: %w", err), client.Close())
	}
	return &Tail{client: client, consumer: consumer, log: log}, nil
}

// Newest returns, per partition of topic, the offset the next record will
// get: where a reader that has just loaded the state starts.
func (t *Tail) Newest(topic string) (map[int32]int64, error) {
	if err := t.client.RefreshMetadata(topic); err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	parts, err := t.client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	out := make(map[int32]int64, len(parts))
	for _, p := range parts {
		off, err := t.client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("newest offset of %s/%d: %w", topic, p, err)
		}
		out[p] = off
	}
	return out, nil
}

// Run reads each partition of from starting at its offset, and hands
// every record to handle, one at a time, in order within a partition,
// until ctx ends. A partition whose offset Kafka no longer holds (past
// retention) is read from its oldest record: the caller's state is then
// older than what the topic can replay, which it has to repair from its
// own source. sarama retries fetch errors itself; they are logged.
func (t *Tail) Run(ctx context.Context, topic string, from map[int32]int64, handle func(Record)) error {
	recs := make(chan Record, 256)
	var wg sync.WaitGroup
	var pcs []sarama.PartitionConsumer
	defer func() {
		for _, pc := range pcs {
			pc.AsyncClose()
		}
		wg.Wait()
	}()
	for p, off := range from {
		pc, err := t.consumer.ConsumePartition(topic, p, off)
		if errors.Is(err, sarama.ErrOffsetOutOfRange) {
			t.log.Warn("offset no longer in kafka; reading from the oldest", "topic", topic, "partition", p, "offset", off)
			pc, err = t.consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		}
		if err != nil {
			return fmt.Errorf("read %s/%d from %d: %w", topic, p, off, err)
		}
		pcs = append(pcs, pc)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for m := range pc.Messages() {
				select {
				case recs <- fromSarama(m):
				case <-ctx.Done():
				}
			}
		}()
		go func() {
			defer wg.Done()
			for err := range pc.Errors() {
				t.log.Warn("read topic", "topic", topic, "partition", p, "err", err)
			}
		}()
	}
	for {
		select {
		case r := <-recs:
			handle(r)
		case <-ctx.Done():
			return nil
		}
	}
}

// Close releases the connections; call it after Run has returned.
func (t *Tail) Close() error {
	return errors.Join(t.consumer.Close(), t.client.Close())
}
