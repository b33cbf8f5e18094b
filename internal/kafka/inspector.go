package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// Inspector reads what topics and consumer groups hold right now, without
// joining a group: for tests, and for operators' tools such as replay.
type Inspector struct {
	client   sarama.Client
	consumer sarama.Consumer
	admin    sarama.ClusterAdmin
}

// Span is what one partition holds: offsets Oldest up to, not including,
// Newest.
type Span struct {
	Topic          string
	Partition      int32
	Oldest, Newest int64
}

// NewInspector connects to c's brokers.
func NewInspector(c Config) (*Inspector, error) {
	sc, err := c.sarama("footfall-inspector")
	if err != nil {
		return nil, err
	}
	sc.Consumer.Return.Errors = true
	// Reads stop at a known offset, so a long poll would only delay them.
	sc.Consumer.MaxWaitTime = 10 * time.Millisecond
	client, err := sarama.NewClient(c.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("connect to %v: %w", []string(c.Brokers), err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("consumer: %w", err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("admin: %w", err), consumer.Close(), client.Close())
	}
	return &Inspector{client: client, consumer: consumer, admin: admin}, nil
}

// Close releases the connections.
func (in *Inspector) Close() error {
	return errors.Join(in.consumer.Close(), in.admin.Close()) // the admin closes the client
}

// Spans returns the offsets of every partition of topics.
func (in *Inspector) Spans(topics ...string) ([]Span, error) {
	var out []Span
	for _, topic := range topics {
		parts, err := in.client.Partitions(topic)
		if err != nil {
			return nil, fmt.Errorf("partitions of %s: %w", topic, err)
		}
		for _, p := range parts {
			newest, err := in.client.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil {
				return nil, fmt.Errorf("newest offset of %s/%d: %w", topic, p, err)
			}
			oldest, err := in.client.GetOffset(topic, p, sarama.OffsetOldest)
			if err != nil {
				return nil, fmt.Errorf("oldest offset of %s/%d: %w", topic, p, err)
			}
			out = append(out, Span{Topic: topic, Partition: p, Oldest: oldest, Newest: newest})
		}
	}
	return out, nil
}

// Count is the number of records topics hold.
func (in *Inspector) Count(topics ...string) (int64, error) {
	spans, err := in.Spans(topics...)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, s := range spans {
		n += s.Newest - s.Oldest
	}
	return n, nil
}

// ReadAll returns every record topics hold now, by topic, each partition in
// offset order. All partitions are read at once: sarama subscribes
// partition consumers in batches, so one at a time would cost a batching
// delay each.
func (in *Inspector) ReadAll(ctx context.Context, topics ...string) (map[string][]Record, error) {
	spans, err := in.Spans(topics...)
	if err != nil {
		return nil, err
	}
	type claim struct {
		pc sarama.PartitionConsumer
		Span
	}
	var claims []claim
	defer func() {
		for _, c := range claims {
			_ = c.pc.Close()
		}
	}()
	for _, s := range spans {
		if s.Newest == s.Oldest {
			continue
		}
		pc, err := in.consumer.ConsumePartition(s.Topic, s.Partition, s.Oldest)
		if err != nil {
			return nil, fmt.Errorf("read %s/%d: %w", s.Topic, s.Partition, err)
		}
		claims = append(claims, claim{pc, s})
	}
	out := map[string][]Record{}
	for _, c := range claims {
		for done := false; !done; {
			select {
			case m := <-c.pc.Messages():
				out[c.Topic] = append(out[c.Topic], fromSarama(m))
				done = m.Offset >= c.Newest-1
			case err := <-c.pc.Errors():
				return nil, fmt.Errorf("read %s/%d: %w", c.Topic, c.Partition, err)
			case <-ctx.Done():
				return nil, fmt.Errorf("read %s/%d up to %d: %w", c.Topic, c.Partition, c.Newest, ctx.Err())
			}
		}
	}
	return out, nil
}

// Committed returns group's committed offsets of topic; a partition without
// one is absent.
func (in *Inspector) Committed(group, topic string) (map[int32]int64, error) {
	parts, err := in.client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	resp, err := in.admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		return map[int32]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	out := map[int32]int64{}
	for p, b := range resp.Blocks[topic] {
		if b.Err != sarama.ErrNoError {
			return nil, fmt.Errorf("offset of group %s on %s/%d: %w", group, topic, p, b.Err)
		}
		if b.Offset >= 0 {
			out[p] = b.Offset
		}
	}
	return out, nil
}

// DeleteGroup removes a consumer group that has no members left.
func (in *Inspector) DeleteGroup(group string) error {
	if err := in.admin.DeleteConsumerGroup(group); err != nil && !errors.Is(err, sarama.ErrGroupIDNotFound) {
		return fmt.Errorf("delete consumer group %s: %w", group, err)
	}
	return nil
}

// NewestOffsets returns the newest offset of every partition of topic,
// asking each partition leader once for all of its partitions (Spans asks
// twice per partition): cheap enough to ask before every batch
// (privacy.Suppressions.Current).
func (in *Inspector) NewestOffsets(topic string) (map[int32]int64, error) {
	parts, err := in.client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	reqs := map[*sarama.Broker]*sarama.OffsetRequest{}
	for _, p := range parts {
		leader, err := in.client.Leader(topic, p)
		if err != nil {
			return nil, fmt.Errorf("leader of %s/%d: %w", topic, p, err)
		}
		if reqs[leader] == nil {
			reqs[leader] = &sarama.OffsetRequest{Version: 1}
		}
		reqs[leader].AddBlock(topic, p, sarama.OffsetNewest, 1)
	}
	out := make(map[int32]int64, len(parts))
	for broker, req := range reqs {
		res, err := broker.GetAvailableOffsets(req)
		if err != nil {
			return nil, fmt.Errorf("newest offsets of %s from broker %d: %w", topic, broker.ID(), err)
		}
		for p, block := range res.Blocks[topic] {
			if !errors.Is(block.Err, sarama.ErrNoError) {
				return nil, fmt.Errorf("newest offset of %s/%d: %w", topic, p, block.Err)
			}
			out[p] = block.Offset
		}
	}
	return out, nil
}
