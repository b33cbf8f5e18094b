package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// session is one generation of group membership. Every claim feeds one
// batcher, so a batch spans partitions and topics and the sink sees few,
// large writes however many partitions the member holds.
type session struct {
	g    *Group
	sess sarama.ConsumerGroupSession
	in   chan *sarama.ConsumerMessage
	stop chan struct{}
	done chan struct{}
}

var _ sarama.ConsumerGroupHandler = (*session)(nil)

func (s *session) Setup(sess sarama.ConsumerGroupSession) error {
	s.sess = sess
	if store, ok := s.g.handler.(OffsetStore); ok {
		for topic, parts := range sess.Claims() {
			next, err := store.NextOffsets(sess.Context(), topic)
			if err != nil {
				return fmt.Errorf("read stored offsets of %s: %w", topic, err)
			}
			for _, p := range parts {
				if off, ok := next[p]; ok {
					sess.ResetOffset(topic, p, off, "")
				}
			}
		}
	}
	s.in = make(chan *sarama.ConsumerMessage, s.g.gc.Batch.Count)
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.batch()
	s.g.joined.Store(true)
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
			case s.in <- m:
			case <-sess.Context().Done():
				return nil
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

// Cleanup runs after every claim returned and before sarama's final commit:
// the batch in hand is written and marked here.
func (s *session) Cleanup(sarama.ConsumerGroupSession) error {
	s.g.joined.Store(false)
	close(s.stop)
	<-s.done
	return nil
}

func (s *session) batch() {
	defer close(s.done)
	var (
		msgs  []*sarama.ConsumerMessage
		bytes int
		timer = time.NewTimer(time.Hour)
		// abandoned: a batch was left unwritten as the session ended.
		// Committing any later message would skip it, so nothing more is
		// written; all of it is redelivered to the next session.
		abandoned bool
	)
	timer.Stop()
	flush := func(trigger string) {
		timer.Stop()
		if len(msgs) > 0 && !abandoned {
			abandoned = !s.write(msgs, trigger)
		}
		msgs, bytes = nil, 0
	}
	for {
		select {
		case m := <-s.in:
			if len(msgs) == 0 {
				timer.Reset(s.g.gc.Batch.Age)
			}
			msgs, bytes = append(msgs, m), bytes+len(m.Value)
			switch {
			case len(msgs) >= s.g.gc.Batch.Count:
				flush(triggerCount)
			case bytes >= s.g.gc.Batch.Bytes:
				flush(triggerBytes)
			}
		case <-timer.C:
			flush(triggerAge)
		case <-s.stop:
			// Every claim has returned, so s.in only holds what they had
			// already handed over.
		drain:
			for {
				select {
				case m := <-s.in:
					msgs = append(msgs, m)
				default:
					break drain
				}
			}
			flush(triggerDrain)
			return
		}
	}
}

// write hands msgs to the handler until it succeeds, then marks and commits
// their offsets. A failing sink pauses consumption (the claims block on s.in)
// instead of skipping. Once the session has ended, one last bounded attempt
// is made; if it fails too the batch stays uncommitted, write returns false
// and the batch is redelivered.
func (s *session) write(msgs []*sarama.ConsumerMessage, trigger string) bool {
	ctx := s.sess.Context()
	bo := newBackoff(100*time.Millisecond, 5*time.Second)
	for {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.g.gc.Grace)
		start := time.Now()
		err := s.g.handler.HandleBatch(wctx, msgs)
		cancel()
		if err == nil {
			s.g.m.observe(msgs, trigger, time.Since(start))
			for _, m := range msgs {
				s.sess.MarkMessage(m, "")
			}
			s.sess.Commit()
			return true
		}
		s.g.m.writeErrors.Inc()
		s.g.log.Error("write batch; will retry", "group", s.g.gc.Group, "messages", len(msgs), "err", err)
		if ctx.Err() != nil || !bo.wait(ctx) {
			s.g.log.Warn("session ended with the batch unwritten; it will be redelivered", "messages", len(msgs))
			return false
		}
	}
}
