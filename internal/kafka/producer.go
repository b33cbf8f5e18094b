package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// Producer is a synchronous producer that can also tell whether Kafka
// answers, for readiness.
type Producer struct {
	sarama.SyncProducer
	client sarama.Client

	mu    sync.Mutex
	probe chan struct{} // closed when the metadata request in flight ends
	err   error         // that request's outcome
}

// NewProducer returns a producer whose SendMessages returns only once every
// message is acknowledged by all in-sync replicas. Idempotence keeps the
// broker from writing a message twice when the producer retries.
func NewProducer(c Config, clientID string) (*Producer, error) {
	sc, err := c.sarama(clientID)
	if err != nil {
		return nil, err
	}
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Idempotent = true
	sc.Net.MaxOpenRequests = 1 // required by the idempotent producer
	sc.Producer.Retry.Max = 5
	sc.Producer.Retry.Backoff = 200 * time.Millisecond
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	sc.Producer.Compression = sarama.CompressionSnappy
	sc.Producer.Partitioner = sarama.NewHashPartitioner // by key: one visitor, one partition
	sc.Producer.MaxMessageBytes = 1 << 20
	client, err := sarama.NewClient(c.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("connect producer to %v: %w", []string(c.Brokers), err)
	}
	p, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("producer: %w", err)
	}
	return &Producer{SyncProducer: p, client: client}, nil
}

// Ready asks the cluster for its metadata: nil when a broker answers. One
// request at a time goes out, however often readiness is probed, and ctx
// bounds the wait for it.
func (p *Producer) Ready(ctx context.Context) error {
	p.mu.Lock()
	if p.probe == nil {
		done := make(chan struct{})
		p.probe = done
		go func() {
			err := p.client.RefreshMetadata()
			p.mu.Lock()
			p.err, p.probe = err, nil
			p.mu.Unlock()
			close(done)
		}()
	}
	done := p.probe
	p.mu.Unlock()
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("kafka metadata: %w", ctx.Err())
	}
}

// Close flushes and closes the producer, then its client.
func (p *Producer) Close() error {
	return errors.Join(p.SyncProducer.Close(), p.client.Close())
}
