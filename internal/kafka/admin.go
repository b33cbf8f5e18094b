package kafka

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/IBM/sarama"
)

// EnsureTopics creates the topics that do not exist yet with the configured
// partition count and replication factor. Existing topics are left as they
// are: changing a partition count moves keys, which is an operator's call.
func EnsureTopics(c Config, log *slog.Logger, topics []string) error {
	sc, err := c.sarama("footfall-migrate")
	if err != nil {
		return err
	}
	admin, err := sarama.NewClusterAdmin(c.Brokers, sc)
	if err != nil {
		return fmt.Errorf("connect admin to %v: %w", []string(c.Brokers), err)
	}
	existing, err := admin.ListTopics()
	if err != nil {
		_ = admin.Close()
		return fmt.Errorf("list topics: %w", err)
	}
	for _, t := range topics {
		if d, ok := existing[t]; ok {
			log.Info("topic exists", "topic", t, "partitions", d.NumPartitions)
			continue
		}
		detail := &sarama.TopicDetail{NumPartitions: int32(c.Partitions), ReplicationFactor: int16(c.ReplicationFactor)}
		if err := admin.CreateTopic(t, detail, false); err != nil {
			_ = admin.Close()
			return fmt.Errorf("create topic %s: %w", t, err)
		}
		log.Info("topic created", "topic", t, "partitions", c.Partitions)
	}
	if err := admin.Close(); err != nil {
		return fmt.Errorf("close admin: %w", err)
	}
	return nil
}

// DeleteTopics removes topics; ones that do not exist are skipped. Tests use
// it to leave the broker as they found it.
func DeleteTopics(c Config, topics []string) error {
	sc, err := c.sarama("footfall-admin")
	if err != nil {
		return err
	}
	admin, err := sarama.NewClusterAdmin(c.Brokers, sc)
	if err != nil {
		return fmt.Errorf("connect admin to %v: %w", []string(c.Brokers), err)
	}
	defer func() { _ = admin.Close() }()
	for _, t := range topics {
		if err := admin.DeleteTopic(t); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return fmt.Errorf("delete topic %s: %w", t, err)
		}
	}
	return nil
}
