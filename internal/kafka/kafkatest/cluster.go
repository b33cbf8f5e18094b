// Package kafkatest starts an in-process Kafka (franz-go's kfake) for unit
// tests of Kafka-facing code, so they need no broker. Integration tests use
// the real broker of deploy/local instead (internal/testenv).
package kafkatest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/footfall/footfall/internal/kafka"
)

// Cluster starts a one-broker fake cluster holding topics, each with
// partitions partitions, and returns a Config that reaches it. The cluster
// stops when the test ends.
func Cluster(t testing.TB, partitions int32, topics ...string) kafka.Config {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return Config(c.ListenAddrs())
}

// Config is a kafka.Config for brokers at addrs, with the protocol version
// kfake speaks.
func Config(addrs []string) kafka.Config {
	kc := kafka.DefaultConfig()
	kc.Brokers, kc.Version, kc.Partitions = addrs, "3.0.0", 1
	return kc
}
