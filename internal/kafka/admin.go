package kafka

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/IBM/sarama"
)

// EnsureTopics creates the topics that do not exist yet with the configured
// partition count and replication factor. Existing topics are left as they
// are: changing a partition count moves keys, which is an operator's call.
func EnsureTopics(c Config, log *slog.Logger, topics []string) (err error) {
	sc, err := c.sarama("footfall-migrate")
	if err != nil {
		return err
	}
	client, err := sarama.NewClient(c.Brokers, sc)
	if err != nil {
		return fmt.Errorf("connect admin to %v: %w", []string(c.Brokers), err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		_ = client.Close()
		return fmt.Errorf("connect admin to %v: %w", []string(c.Brokers), err)
	}
	defer func() { // closes the client too
		if cerr := admin.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close admin: %w", cerr)
		}
	}()
	existing, err := admin.ListTopics()
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	var created []string
	for _, t := range topics {
		if d, ok := existing[t]; ok {
			log.Info("topic exists", "topic", t, "partitions", d.NumPartitions)
			continue
		}
		detail := &sarama.TopicDetail{NumPartitions: int32(c.Partitions), ReplicationFactor: int16(c.ReplicationFactor)}
		if err := admin.CreateTopic(t, detail, false); err != nil {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
		log.Info("topic created", "topic", t, "partitions", c.Partitions)
		created = append(created, t)
	}
	return waitForLeaders(client, created, 30*time.Second)
}

// waitForLeaders returns once every partition of topics answers at its
// leader. A topic just created is listed before its partitions have
// leaders that serve, and a client's first request to one would fail
// with NOT_LEADER.
func waitForLeaders(client sarama.Client, topics []string, timeout time.Duration) error {
	if len(topics) == 0 {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		err := leadersServe(client, topics)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topics have no serving leaders after %v: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leadersServe asks each partition's leader for its newest offset.
func leadersServe(client sarama.Client, topics []string) error {
	if err := client.RefreshMetadata(topics...); err != nil {
		return err
	}
	for _, t := range topics {
		parts, err := client.Partitions(t)
		if err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		for _, p := range parts {
			if _, err := client.GetOffset(t, p, sarama.OffsetNewest); err != nil {
				return fmt.Errorf("%s/%d: %w", t, p, err)
			}
		}
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
