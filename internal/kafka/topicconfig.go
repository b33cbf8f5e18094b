package kafka

import (
	"fmt"

	"github.com/IBM/sarama"
)

// SetTopicConfig sets entries of topic's configuration (such as
// cleanup.policy=compact), leaving the rest as it is. Setting a value the
// topic already has changes nothing, so callers may set it every run.
func SetTopicConfig(c Config, topic string, entries map[string]string) (err error) {
	sc, err := c.sarama("footfall-admin")
	if err != nil {
		return err
	}
	admin, err := sarama.NewClusterAdmin(c.Brokers, sc)
	if err != nil {
		return fmt.Errorf("connect admin to %v: %w", []string(c.Brokers), err)
	}
	defer func() {
		if cerr := admin.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close admin: %w", cerr)
		}
	}()
	set := make(map[string]sarama.IncrementalAlterConfigsEntry, len(entries))
	for k, v := range entries {
		set[k] = sarama.IncrementalAlterConfigsEntry{Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v}
	}
	if err := admin.IncrementalAlterConfig(sarama.TopicResource, topic, set, false); err != nil {
		return fmt.Errorf("set %v on topic %s: %w", entries, topic, err)
	}
	return nil
}
