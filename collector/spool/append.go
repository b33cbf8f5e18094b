package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/footfall/footfall/internal/kafka"
)

// Append writes recs to the spool as one batch. With FsyncInterval 0 it
// returns once they are fsynced. ErrFull: no room now. A write or fsync
// error leaves the batch in doubt: it may still be forwarded, and the
// client's resend is deduplicated by event id. ctx is checked before
// writing; a write is not interrupted.
func (s *Spool) Append(ctx context.Context, recs []kafka.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	at := s.now()
	b := encodeFrame(at, recs)
	s.mu.Lock()
	end, err := s.write(b, at, len(recs))
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.m.appended.Add(float64(len(recs)))
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if s.cfg.FsyncInterval == 0 {
		return s.fsync(end)
	}
	return nil
}

// write appends frame b to the segment being written and returns the lsn
// just past it. s.mu is held.
func (s *Spool) write(b []byte, at time.Time, n int) (int64, error) {
	size := int64(len(b))
	switch {
	case s.closed:
		return 0, ErrClosed
	case size > s.cfg.MaxBytes:
		return 0, fmt.Errorf("%w: %d bytes, --collector-spool-max-bytes=%d", ErrTooLarge, size, s.cfg.MaxBytes)
	case s.bytes+size > s.cfg.MaxBytes:
		return 0, ErrFull
	}
	if s.w != nil {
		if cur := s.segs[len(s.segs)-1].size; cur > 0 && cur+size > s.cfg.SegmentBytes {
			s.seal()
		}
	}
	if s.w == nil {
		if err := s.create(); err != nil {
			return 0, err
		}
	}
	seg := &s.segs[len(s.segs)-1]
	if _, err := s.w.WriteAt(b, seg.size); err != nil {
		if s.w.Truncate(seg.size) != nil {
			s.seal() // the partial frame stays behind seg.size, never read
		}
		if errors.Is(err, syscall.ENOSPC) {
			return 0, fmt.Errorf("%w: %w", ErrFull, err)
		}
		return 0, fmt.Errorf("spool: write %s: %w", s.w.Name(), err)
	}
	seg.size += size
	s.bytes += size
	s.lsn += size
	if s.records == 0 {
		s.oldest = at
	}
	s.records += int64(n)
	return s.lsn, nil
}

// create starts a new segment. s.mu is held.
func (s *Spool) create() error {
	seq := s.nextSeq
	path := segmentPath(s.cfg.Dir, seq)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		return errors.Join(fmt.Errorf("spool: fsync %s: %w", s.cfg.Dir, err), f.Close(), os.Remove(path))
	}
	s.nextSeq++
	s.segs = append(s.segs, segment{seq: seq})
	s.w = f
	return nil
}

// seal ends writing to the current segment; the next fsync closes it.
// s.mu is held.
func (s *Spool) seal() {
	s.retired = append(s.retired, s.w)
	s.w = nil
}

// fsync returns once every byte up to lsn end is on disk. Whoever fsyncs
// covers everything written before it started, so appenders that wait here
// together are served by one fsync (group commit).
func (s *Spool) fsync(end int64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	if s.synced >= end && len(s.retired) == 0 {
		s.mu.Unlock()
		return nil
	}
	w, retired, target := s.w, s.retired, s.lsn
	s.retired = nil
	s.mu.Unlock()
	var errs []error
	for _, f := range retired {
		errs = append(errs, f.Sync(), f.Close())
	}
	if w != nil {
		errs = append(errs, w.Sync())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: fsync: %w", err)
	}
	s.synced = target
	return nil
}

// fsyncEvery fsyncs what was appended, every d, until Close.
func (s *Spool) fsyncEvery(d time.Duration) {
	defer close(s.done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			end := s.lsn
			s.mu.Unlock()
			if err := s.fsync(end); err != nil {
				s.log.Error("spool fsync failed", "err", err)
			}
		}
	}
}
