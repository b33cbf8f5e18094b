package spool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/footfall/footfall/internal/kafka"
)

// Run forwards spooled batches to pub in the order they were appended, up
// to 1 MiB of them per Publish, retrying with backoff while pub fails, and
// deletes each segment once pub has acknowledged all of it. It returns nil
// when ctx ends (batches in flight stay spooled) and an error only when
// the disk fails it. One Run at a time.
func (s *Spool) Run(ctx context.Context, pub kafka.Publisher) error {
	if !s.draining.CompareAndSwap(false, true) {
		return errors.New("spool: Run is already running")
	}
	defer s.draining.Store(false)
	for {
		seq, off, ok := s.head()
		if !ok {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return nil
			}
		}
		if err := s.drain(ctx, pub, seq, off); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// head returns the first segment and where in it draining resumes.
func (s *Spool) head() (seq uint64, off int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) == 0 {
		return 0, 0, false
	}
	seq = s.segs[0].seq
	if s.start.seq == seq {
		off = s.start.off
	}
	return seq, off, true
}

// drain forwards segment seq from off until it is deleted.
func (s *Spool) drain(ctx context.Context, pub kafka.Publisher, seq uint64, off int64) error {
	f, err := os.Open(segmentPath(s.cfg.Dir, seq))
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	for {
		bound := s.bound(seq)
		if off >= bound {
			// Everything is in Kafka; unless a batch came in meanwhile,
			// the segment goes.
			if done, err := s.remove(seq, off); done || err != nil {
				return err
			}
			continue
		}
		recs, end, err := s.gather(f, seq, off, bound)
		if err != nil {
			return err
		}
		if recs != nil {
			if err := s.publish(ctx, pub, recs); err != nil {
				return err
			}
			s.acked(len(recs))
		}
		off = end
		s.checkpoint(seq, off)
	}
}

// gather reads the batches of segment seq from off, up to bound, to be
// published together: whole batches, groupBytes of them or the first one
// alone if larger. Publishing many batches at once lets the drainer keep
// ahead of new batches, which go behind it while it works. A damaged
// stretch ends the group; met first, it is skipped and counted, and gather
// returns no records and where the stretch ends.
func (s *Spool) gather(f *os.File, seq uint64, off, bound int64) ([]kafka.Record, int64, error) {
	var recs []kafka.Record
	for start := off; off < bound && (off == start || off-start < s.groupBytes); {
		fr, err := readFrame(f, off, bound)
		if err != nil {
			return nil, 0, err
		}
		if fr.recs == nil {
			if recs != nil {
				break // the batches before it go first
			}
			s.m.corrupt.Inc()
			s.log.Warn("spool: skipped a torn or corrupt stretch; the batches in it are lost",
				"segment", f.Name(), "offset", off, "bytes", fr.end-off)
			return nil, fr.end, nil
		}
		if recs == nil {
			s.mu.Lock()
			s.oldest = fr.appended // batches drain in order: this is the oldest
			s.mu.Unlock()
		}
		recs = append(recs, fr.recs...)
		off = fr.end
	}
	return recs, off, nil
}

// bound is where segment seq's frames end now.
func (s *Spool) bound(seq uint64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) == 0 || s.segs[0].seq != seq {
		return 0
	}
	return s.segs[0].size
}

// remove deletes head segment seq, drained up to off, unless it is being
// written and has grown past off.
func (s *Spool) remove(seq uint64, off int64) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) == 0 || s.segs[0].seq != seq {
		return true, nil
	}
	writing := len(s.segs) == 1 && s.w != nil
	if writing && s.segs[0].size > off {
		return false, nil
	}
	if err := os.Remove(segmentPath(s.cfg.Dir, seq)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("spool: %w", err)
	}
	if writing {
		s.seal() // the next Append starts a new segment
	}
	s.bytes -= s.segs[0].size
	s.segs = s.segs[1:]
	if len(s.segs) == 0 { // whatever was counted and lost to damage is gone too
		s.records, s.oldest = 0, time.Time{}
	}
	return true, nil
}

// acked counts n records Kafka acknowledged.
func (s *Spool) acked(n int) {
	s.m.drained.Add(float64(n))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = max(s.records-int64(n), 0)
	if s.records == 0 {
		s.oldest = time.Time{}
	}
}

// checkpoint records that segment seq is in Kafka up to off, so a restart
// does not send it again. Failing to is worth a warning, not a stop: the
// cost is duplicates.
func (s *Spool) checkpoint(seq uint64, off int64) {
	ck := checkpoint{seq: seq, off: off}
	s.mu.Lock()
	s.start = ck // a later Run of this process resumes here too
	s.mu.Unlock()
	if _, err := s.ckpt.WriteAt(ck.encode(), 0); err != nil {
		s.log.Warn("spool: cannot write the drain checkpoint; a restart would send some batches again", "err", err)
	}
}

// publish sends recs until pub acknowledges all of them or ctx ends. After a
// partial failure only the failed records go again: the producer fails a
// partition's records together, so each partition keeps its order.
func (s *Spool) publish(ctx context.Context, pub kafka.Publisher, recs []kafka.Record) error {
	wait := s.retryMin
	for attempt := 0; ; attempt++ {
		err := pub.Publish(ctx, recs)
		if err == nil {
			if attempt > 0 {
				s.log.Info("spool: Kafka takes spooled records again", "attempts", attempt+1)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.m.drainErrors.Inc()
		var perr *kafka.PublishError
		if errors.As(err, &perr) && len(perr.Errs) == len(recs) {
			failed := perr.Failed()
			if len(failed) == 0 {
				return nil
			}
			left := make([]kafka.Record, len(failed))
			for i, j := range failed {
				left[i] = recs[j]
			}
			recs = left
		}
		if attempt == 0 {
			s.log.Warn("spool: Kafka did not take spooled records; retrying", "records", len(recs), "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		wait = min(2*wait, s.retryMax)
	}
}
