package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
)

// Flood publishes recs over and over, for d or until ctx ends, through a
// bare sarama producer configured as every Footfall producer is
// (idempotent, acks from every in-sync replica, keyed partitioning, c's
// compression), and returns how many were acknowledged within d and the
// time that took: the ceiling the collector is measured against
// (cmd/benchload). With senders > 0, that many goroutines each send
// perCall records at a time and wait for them, as the collector's
// requests do (a SyncProducer); with senders 0, one AsyncProducer is fed
// as fast as it takes records: the most one process can publish. Errors
// are counted, not retried.
func Flood(ctx context.Context, c Config, clientID string, recs []Record, senders, perCall int, d time.Duration) (acked, failed int64, elapsed time.Duration, err error) {
	if len(recs) == 0 {
		return 0, 0, 0, nil
	}
	if senders > 0 {
		return floodSync(ctx, c, clientID, recs, senders, max(perCall, 1), d)
	}
	sc, err := c.producerConfig(clientID)
	if err != nil {
		return 0, 0, 0, err
	}
	ap, err := sarama.NewAsyncProducer(c.Brokers, sc)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("kafka producer: %w", err)
	}
	msgs := make([]sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		msgs[i] = sarama.ProducerMessage{Topic: r.Topic, Key: sarama.ByteEncoder(r.Key), Value: sarama.ByteEncoder(r.Value)}
	}
	var ok, bad atomic.Int64
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		succ, errs := ap.Successes(), ap.Errors()
		for succ != nil || errs != nil {
			select {
			case _, more := <-succ:
				if !more {
					succ = nil
					continue
				}
				ok.Add(1)
			case _, more := <-errs:
				if !more {
					errs = nil
					continue
				}
				bad.Add(1)
			}
		}
	}()
	start := time.Now()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
feed:
	for i := 0; ; i++ {
		m := msgs[i%len(msgs)] // a copy: sarama keeps what it is given
		select {
		case ap.Input() <- &m:
		case <-deadline.C:
			break feed
		case <-ctx.Done():
			break feed
		}
	}
	elapsed = time.Since(start)
	acked, failed = ok.Load(), bad.Load()
	ap.AsyncClose()
	<-counted
	return acked, failed, elapsed, nil
}

func floodSync(ctx context.Context, c Config, clientID string, recs []Record, senders, perCall int, d time.Duration) (acked, failed int64, elapsed time.Duration, err error) {
	sc, err := c.producerConfig(clientID)
	if err != nil {
		return 0, 0, 0, err
	}
	sp, err := sarama.NewSyncProducer(c.Brokers, sc)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("kafka producer: %w", err)
	}
	defer sp.Close()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s * perCall; ctx.Err() == nil; i += senders * perCall {
				msgs := make([]*sarama.ProducerMessage, perCall)
				for j := range msgs {
					r := recs[(i+j)%len(recs)]
					msgs[j] = &sarama.ProducerMessage{Topic: r.Topic, Key: sarama.ByteEncoder(r.Key), Value: sarama.ByteEncoder(r.Value)}
				}
				err := sp.SendMessages(msgs)
				var perrs sarama.ProducerErrors
				switch {
				case err == nil:
					ok.Add(int64(perCall))
				case errors.As(err, &perrs):
					ok.Add(int64(perCall - len(perrs)))
					bad.Add(int64(len(perrs)))
				default:
					bad.Add(int64(perCall))
				}
			}
		}()
	}
	wg.Wait()
	return ok.Load(), bad.Load(), time.Since(start), nil
}
