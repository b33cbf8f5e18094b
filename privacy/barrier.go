package privacy

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

// EnricherTypes are the event types the enricher reads (enricher.Types,
// which a test compares): the forget waits for its offsets on their
// topics only.
var EnricherTypes = []event.Type{event.Search, event.Click, event.Pageview, event.Identify}

// mark is where a forget's wait ends on one partition: every record
// before Offset was there when the suppressions went out.
type mark struct {
	topic     string
	partition int32
	offset    int64
}

// marks returns the newest offset of every partition of topics that
// holds records.
func marks(in *kafka.Inspector, topics []string) ([]mark, error) {
	spans, err := in.Spans(topics...)
	if err != nil {
		return nil, err
	}
	var out []mark
	for _, s := range spans {
		if s.Newest > s.Oldest {
			out = append(out, mark{s.Topic, s.Partition, s.Newest})
		}
	}
	return out, nil
}

// waitConsumers returns once the loader's group (offsets in Kafka) and the
// enricher's (offsets in PostgreSQL, enricher/store.go) have both
// committed past every event topic's end as it was just after the
// suppressions were published. Each consumer brings its set up to the
// suppressions topic's end before it applies a batch
// (Suppressions.Current), so the events it commits after that point are
// filtered, and the ones before it are in the stores for the delete to
// find. It fails after wait, naming the consumer and partition that lag.
func (f *Forgetter) waitConsumers(ctx context.Context, progress func(string)) error {
	in, err := kafka.NewInspector(f.d.Kafka)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }() // read-only
	prefix := f.d.Kafka.TopicPrefix
	loaderMarks, err := marks(in, event.EventTopics(prefix))
	if err != nil {
		return err
	}
	var enricherTopics []string
	for _, t := range EnricherTypes {
		enricherTopics = append(enricherTopics, event.Topic(prefix, t))
	}
	enricherMarks, err := marks(in, enricherTopics)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.o.ConsumerWait)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		lag, err := f.behind(ctx, in, loaderMarks, enricherMarks)
		if err == nil && lag == "" {
			return nil
		}
		if err != nil && ctx.Err() == nil {
			return err
		}
		progress(lag)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s after %s: is it running? (--no-wait deletes without waiting, leaving a window in which its events still arrive): %w",
				lag, f.o.ConsumerWait, ctx.Err())
		case <-tick.C:
		}
	}
}

// behind says which consumer is still behind a mark, or "".
func (f *Forgetter) behind(ctx context.Context, in *kafka.Inspector, loaderMarks, enricherMarks []mark) (string, error) {
	committed := map[string]map[int32]int64{}
	for _, m := range loaderMarks {
		c, ok := committed[m.topic]
		if !ok {
			var err error
			if c, err = in.Committed(f.o.LoaderGroup, m.topic); err != nil {
				return "", err
			}
			committed[m.topic] = c
		}
		if c[m.partition] < m.offset {
			return fmt.Sprintf("loader group %s has read %s/%d up to %d of %d", f.o.LoaderGroup, m.topic, m.partition, c[m.partition], m.offset), nil
		}
	}
	stored, err := enricherOffsets(ctx, f.d.Pool, f.o.EnricherGroup)
	if err != nil {
		return "", err
	}
	for _, m := range enricherMarks {
		if next := stored[partitionOf{m.topic, m.partition}]; next < m.offset {
			return fmt.Sprintf("enricher group %s has applied %s/%d up to %d of %d", f.o.EnricherGroup, m.topic, m.partition, next, m.offset), nil
		}
	}
	return "", nil
}

type partitionOf struct {
	topic     string
	partition int32
}

// enricherOffsets reads the enricher's next offsets, which it writes
// with the scores they produced.
func enricherOffsets(ctx context.Context, pool *pgxpool.Pool, group string) (map[partitionOf]int64, error) {
	rows, err := pool.Query(ctx, `SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1`, group)
	if err != nil {
		return nil, fmt.Errorf("read the enricher's offsets: %w", err)
	}
	defer rows.Close()
	out := map[partitionOf]int64{}
	for rows.Next() {
		var p partitionOf
		var next int64
		if err := rows.Scan(&p.topic, &p.partition, &next); err != nil {
			return nil, fmt.Errorf("read the enricher's offsets: %w", err)
		}
		out[p] = next
	}
	return out, rows.Err()
}
