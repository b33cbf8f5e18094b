package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// ErrHistoryGone is returned when Kafka no longer holds the records a
// reader asked for: retention has deleted them.
var ErrHistoryGone = errors.New("kafka no longer holds that history")

// SpansSince returns, for every partition of topics, the offsets from the
// first record Kafka timestamped at or after t up to the newest offset
// now: the history a rebuild reads. A partition whose deleted records
// (oldest offset above 0) may have reached past t is ErrHistoryGone, since
// what it held before its oldest record cannot be read any more.
func (in *Inspector) SpansSince(t time.Time, topics ...string) ([]Span, error) {
	if err := in.client.RefreshMetadata(topics...); err != nil {
		return nil, fmt.Errorf("metadata of %v: %w", topics, err)
	}
	spans, err := in.Spans(topics...)
	if err != nil {
		return nil, err
	}
	for i, s := range spans {
		at, err := in.client.GetOffset(s.Topic, s.Partition, t.UnixMilli())
		if err != nil {
			return nil, fmt.Errorf("offset of %s/%d at %s: %w", s.Topic, s.Partition, t.UTC().Format(time.RFC3339), err)
		}
		if at < 0 || at > s.Newest { // no record at or after t
			at = s.Newest
		}
		if at == s.Oldest && s.Oldest > 0 {
			return nil, fmt.Errorf("%s/%d from %s: its oldest record (offset %d) is not older: %w",
				s.Topic, s.Partition, t.UTC().Format(time.RFC3339), s.Oldest, ErrHistoryGone)
		}
		spans[i].Oldest = at
	}
	return spans, nil
}

// Newest returns spans with Newest set to each partition's newest offset
// now: where a reader that started at spans stops.
func (in *Inspector) Newest(spans []Span) ([]Span, error) {
	out := make([]Span, len(spans))
	for i, s := range spans {
		newest, err := in.client.GetOffset(s.Topic, s.Partition, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("newest offset of %s/%d: %w", s.Topic, s.Partition, err)
		}
		s.Newest = newest
		out[i] = s
	}
	return out, nil
}

// ReadSpans hands every record of spans (offsets Oldest up to, not
// including, Newest) to handle, on one goroutine, in offset order within a
// partition, the partitions read at once. It returns once all are read,
// or with the first error of handle, of Kafka, or of ctx.
func (in *Inspector) ReadSpans(ctx context.Context, spans []Span, handle func(Record) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recs := make(chan Record, 4096)
	errs := make(chan error, len(spans))
	var wg sync.WaitGroup
	for _, s := range spans {
		if s.Newest <= s.Oldest {
			continue
		}
		pc, err := in.consumer.ConsumePartition(s.Topic, s.Partition, s.Oldest)
		if errors.Is(err, sarama.ErrOffsetOutOfRange) {
			err = fmt.Errorf("%w: %w", ErrHistoryGone, err)
		}
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("read %s/%d from %d: %w", s.Topic, s.Partition, s.Oldest, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { _ = pc.Close() }() // read-only: nothing to lose
			for {
				select {
				case m := <-pc.Messages():
					if m.Offset >= s.Newest {
						return
					}
					select {
					case recs <- fromSarama(m):
					case <-ctx.Done():
						return
					}
					if m.Offset >= s.Newest-1 {
						return
					}
				case err := <-pc.Errors():
					errs <- fmt.Errorf("read %s/%d: %w", s.Topic, s.Partition, err)
					return
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case r := <-recs:
			if err := handle(r); err != nil {
				cancel()
				<-done
				return err
			}
		case err := <-errs:
			cancel()
			<-done
			return err
		case <-done:
			for {
				select {
				case r := <-recs:
					if err := handle(r); err != nil {
						return err
					}
				default:
					select {
					case err := <-errs:
						return err
					default:
					}
					return ctx.Err()
				}
			}
		case <-ctx.Done():
			<-done
			return ctx.Err()
		}
	}
}
