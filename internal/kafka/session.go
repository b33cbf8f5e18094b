package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/IBM/sarama"
)

// Headers a dead letter carries besides the original record's own.
const (
	HeaderDeadReason    = "footfall-dead-reason"
	HeaderDeadTopic     = "footfall-dead-topic"
	HeaderDeadPartition = "footfall-dead-partition"
	HeaderDeadOffset    = "footfall-dead-offset"
	HeaderDeadGroup     = "footfall-dead-group"
)

// session is one generation of group membership. Every claim feeds one
// batcher, so a batch spans partitions and topics and the sink sees few,
// large writes however many partitions the member holds.
type session struct {
	g    *Group
	sess sarama.ConsumerGroupSession
	in   chan Record
	stop chan struct{}
	done chan struct{}
}

var _ sarama.ConsumerGroupHandler = (*session)(nil)

// Setup starts each claim exactly at the handler's stored offset, if it
// keeps any. sarama's MarkOffset only moves a partition's offset forward
// and ResetOffset only backward; one of the two takes effect whether
// Kafka's committed offset is ahead, behind or missing.
func (s *session) Setup(sess sarama.ConsumerGroupSession) error {
	s.sess = sess
	if store, ok := s.g.handler.(OffsetStore); ok {
		for topic, parts := range sess.Claims() {
			next, err := store.NextOffsets(sess.Context(), topic)
			if err != nil {
				s.g.setJoined(false, err)
				return fmt.Errorf("read stored offsets of %s: %w", topic, err)
			}
			for _, p := range parts {
				if off, ok := next[p]; ok {
					sess.MarkOffset(topic, p, off, "")
					sess.ResetOffset(topic, p, off, "")
				}
			}
		}
	}
	s.in = make(chan Record, s.g.gc.Batch.Count)
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.batch()
	s.g.setJoined(true, nil)
	s.g.log.Info("joined consumer group", "group", s.g.gc.Group, "member", sess.MemberID(), "generation", sess.GenerationID(), "claims", sess.Claims())
	return nil
}

func (s *session) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			select {
			case s.in <- fromSarama(m):
			case <-sess.Context().Done():
				return nil
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

func fromSarama(m *sarama.ConsumerMessage) Record {
	r := Record{Topic: m.Topic, Key: m.Key, Value: m.Value, Partition: m.Partition, Offset: m.Offset, Timestamp: m.Timestamp}
	for _, h := range m.Headers {
		if h != nil {
			r.Headers = append(r.Headers, Header{Key: string(h.Key), Value: h.Value})
		}
	}
	return r
}

// Cleanup runs after every claim returned and before sarama's final commit:
// the batch in hand is written and marked here. sarama calls it after a
// failed Setup too, when no batcher was started.
func (s *session) Cleanup(sarama.ConsumerGroupSession) error {
	if s.stop == nil {
		return nil
	}
	s.g.setJoined(false, fmt.Errorf("rebalancing or leaving"))
	close(s.stop)
	<-s.done
	return nil
}

func (s *session) batch() {
	defer close(s.done)
	b := NewBatcher(s.g.gc.Batch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// abandoned: a batch was left unwritten as the session ended.
	// Committing any later record would skip it, so nothing more is
	// written; all of it is redelivered to the next session.
	abandoned := false
	flush := func(trigger string) {
		timer.Stop()
		recs := b.Flush()
		if len(recs) > 0 && !abandoned {
			abandoned = !s.write(recs, trigger)
		}
	}
	for {
		select {
		case r := <-s.in:
			first := b.Len() == 0
			if trigger := b.Add(r, time.Now()); trigger != "" {
				flush(trigger)
			} else if first {
				due, _ := b.Deadline()
				timer.Reset(time.Until(due))
			}
		case <-timer.C:
			flush(TriggerAge)
		case <-s.stop:
			// Every claim has returned, so s.in only holds what they had
			// already handed over.
			for len(s.in) > 0 {
				b.Add(<-s.in, time.Now())
			}
			flush(TriggerDrain)
			return
		}
	}
}

// write hands recs to the handler until they are all written or
// dead-lettered, marking and committing the offsets of each record done. A
// failing sink pauses consumption (the claims block on s.in) instead of
// skipping. Once the session has ended, one last bounded attempt is made;
// if it fails too the rest stays uncommitted, write returns false and it is
// redelivered.
func (s *session) write(recs []Record, trigger string) bool {
	ctx := s.sess.Context()
	bo := newBackoff(100*time.Millisecond, 5*time.Second)
	start := time.Now()
	for {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.g.gc.Grace)
		done, err := s.process(wctx, recs)
		cancel()
		for _, r := range recs[:done] {
			s.sess.MarkOffset(r.Topic, r.Partition, r.Offset+1, "")
		}
		if done > 0 {
			s.sess.Commit()
		}
		if err == nil {
			s.g.m.observe(recs, trigger, time.Since(start))
			return true
		}
		recs = recs[done:]
		s.g.m.writeErrors.Inc()
		s.g.log.Error("write batch; will retry", "group", s.g.gc.Group, "records", len(recs), "err", err)
		if ctx.Err() != nil || !bo.wait(ctx) {
			s.g.log.Warn("session ended with the batch unwritten; it will be redelivered", "records", len(recs))
			return false
		}
	}
}

// process writes recs, splitting the batch in halves when the handler
// refuses it permanently, until the records at fault stand alone; each of
// those is dead-lettered. It returns how many leading records are done
// (written or dead-lettered) and the transient error that stopped it, if
// any. Within one partition a batch is in offset order, so the records done
// are always a prefix that can be committed.
func (s *session) process(ctx context.Context, recs []Record) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	err := s.g.handler.HandleBatch(ctx, recs)
	var re *RecordError
	switch {
	case err == nil:
		return len(recs), nil
	case !IsPermanent(err):
		return 0, err
	case errors.As(err, &re) && re.Index >= 0 && re.Index < len(recs):
		return s.around(ctx, recs, re.Index, re.Err)
	case len(recs) == 1:
		if err := s.deadLetter(ctx, recs[0], err); err != nil {
			return 0, err
		}
		return 1, nil
	}
	mid := len(recs) / 2
	done, err := s.process(ctx, recs[:mid])
	if err != nil {
		return done, err
	}
	rest, err := s.process(ctx, recs[mid:])
	return mid + rest, err
}

// around writes the records before recs[i], dead-letters recs[i], then
// writes the records after it.
func (s *session) around(ctx context.Context, recs []Record, i int, reason error) (int, error) {
	done, err := s.process(ctx, recs[:i])
	if err != nil {
		return done, err
	}
	if err := s.deadLetter(ctx, recs[i], reason); err != nil {
		return i, err
	}
	rest, err := s.process(ctx, recs[i+1:])
	return i + 1 + rest, err
}

// deadLetter publishes r with the reason it was refused, then tells an
// OffsetStore that r is consumed.
func (s *session) deadLetter(ctx context.Context, r Record, reason error) error {
	dl := Record{
		Topic: s.g.gc.DeadLetterTopic, Key: r.Key, Value: r.Value,
		Headers: append(append([]Header(nil), r.Headers...),
			Header{HeaderDeadReason, []byte(reason.Error())},
			Header{HeaderDeadTopic, []byte(r.Topic)},
			Header{HeaderDeadPartition, []byte(strconv.Itoa(int(r.Partition)))},
			Header{HeaderDeadOffset, []byte(strconv.FormatInt(r.Offset, 10))},
			Header{HeaderDeadGroup, []byte(s.g.gc.Group)},
		),
	}
	if err := s.g.dead.Publish(ctx, []Record{dl}); err != nil {
		return fmt.Errorf("dead-letter %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	if store, ok := s.g.handler.(OffsetStore); ok {
		if err := store.SkipRecords(ctx, []Record{r}); err != nil {
			return fmt.Errorf("store offset past dead letter %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
	}
	s.g.m.deadLetters.WithLabelValues(r.Topic).Inc()
	s.g.log.Warn("dead-lettered a record the handler refused", "group", s.g.gc.Group,
		"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", reason)
	return nil
}
