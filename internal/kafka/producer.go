package kafka

import (
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// NewProducer returns a synchronous producer whose SendMessages returns only
// once every message is acknowledged by all in-sync replicas. Idempotence
// keeps the broker from writing a message twice when the producer retries.
func NewProducer(c Config, clientID string) (sarama.SyncProducer, error) {
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
	p, err := sarama.NewSyncProducer(c.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("connect producer to %v: %w", []string(c.Brokers), err)
	}
	return p, nil
}
