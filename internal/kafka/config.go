// Package kafka is Footfall's Kafka wiring: sarama configuration, the
// idempotent producer, topic creation and the batching consumer group that
// every consumer service runs.
package kafka

import (
	"flag"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/footfall/footfall/internal/config"
)

// Config says where Kafka is and how Footfall's topics are named and sized.
type Config struct {
	Brokers           config.StringList
	TopicPrefix       string
	Version           string
	Partitions        int
	ReplicationFactor int
	Compression       string // of produced record batches: a key of compressions
}

// compressions are the codecs a producer may use, by flag value.
var compressions = map[string]sarama.CompressionCodec{
	"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
	"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
}

// DefaultConfig matches the local services of deploy/local.
func DefaultConfig() Config {
	return Config{
		Brokers:           config.StringList{"127.0.0.1:9092"},
		TopicPrefix:       "footfall",
		Version:           "4.0.0",
		Partitions:        3,
		ReplicationFactor: 1,
		Compression:       "zstd",
	}
}

// RegisterFlags binds c to fs under the kafka- prefix.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Var(&c.Brokers, "kafka-brokers", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&c.TopicPrefix, "kafka-topic-prefix", c.TopicPrefix, "prefix of every topic name (PREFIX.search, ...)")
	fs.StringVar(&c.Version, "kafka-version", c.Version, "lowest Kafka protocol version the brokers speak")
	fs.IntVar(&c.Partitions, "kafka-partitions", c.Partitions, "partitions per topic, used when migrate creates topics")
	fs.IntVar(&c.ReplicationFactor, "kafka-replication-factor", c.ReplicationFactor, "replicas per topic, used when migrate creates topics")
	fs.StringVar(&c.Compression, "kafka-compression", c.Compression, "compression of the record batches a service produces: none, gzip, snappy, lz4 or zstd")
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return config.Invalid("kafka-brokers", `""`, "at least one host:port")
	case c.TopicPrefix == "":
		return config.Invalid("kafka-topic-prefix", `""`, "a non-empty prefix such as footfall")
	case c.Partitions < 1:
		return config.Invalid("kafka-partitions", c.Partitions, "at least 1")
	case c.ReplicationFactor < 1:
		return config.Invalid("kafka-replication-factor", c.ReplicationFactor, "at least 1")
	}
	if _, ok := compressions[c.Compression]; !ok {
		return config.Invalid("kafka-compression", c.Compression, "none, gzip, snappy, lz4 or zstd")
	}
	if _, err := sarama.ParseKafkaVersion(c.Version); err != nil {
		return config.Invalid("kafka-version", c.Version, "a Kafka version such as 4.0.0")
	}
	return nil
}

// sarama returns the settings every client shares.
func (c Config) sarama(clientID string) (*sarama.Config, error) {
	v, err := sarama.ParseKafkaVersion(c.Version)
	if err != nil {
		return nil, fmt.Errorf("kafka-version: %w", err)
	}
	sc := sarama.NewConfig()
	sc.Version = v
	sc.ClientID = clientID
	sc.Net.DialTimeout = 5 * time.Second
	sc.Metadata.Retry.Max = 5
	sc.Metadata.Retry.Backoff = 250 * time.Millisecond
	return sc, nil
}
