// Package spool keeps the collector's promise while Kafka is away: a batch
// Kafka did not take in time is appended to a write-ahead log on local disk,
// and Run forwards it to Kafka, in order, once Kafka answers again. A
// segment file is deleted only after Kafka acknowledged all of it. See
// docs/operations.md, "Spool", for the guarantees and what they cost.
package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	// ErrFull means the spool holds MaxBytes, or the disk is full: the
	// collector answers 503 with Retry-After until the drainer makes room.
	ErrFull = errors.New("spool: full")
	// ErrTooLarge means one batch is larger than the whole spool may be.
	ErrTooLarge = errors.New("spool: batch larger than the spool")
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("spool: closed")
)

// Spool is a bounded write-ahead log of record batches with one drainer.
// Append is safe for concurrent use; concurrent appends share an fsync.
type Spool struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics
	lock *os.File // holds the directory's lock
	ckpt *os.File // the drainer's checkpoint
	now  func() time.Time

	// The drainer's backoff while Kafka fails.
	retryMin, retryMax time.Duration
	// groupBytes bounds the batches published at once (at least one).
	groupBytes int64

	mu      sync.Mutex
	segs    []segment  // oldest first; the last is being written when w != nil
	w       *os.File   // the segment being written, nil until the next Append
	retired []*os.File // written segments awaiting their last fsync and close
	bytes   int64      // sum of segs' sizes
	lsn     int64      // bytes appended by this process: a position for fsync
	records int64      // records Kafka has not acknowledged
	oldest  time.Time  // when the oldest of them was appended
	nextSeq uint64
	start   checkpoint // where draining resumes in the first segment
	closed  bool

	syncMu sync.Mutex
	synced int64 // lsn up to which every byte is fsynced

	wake     chan struct{} // an Append tells the drainer
	stop     chan struct{} // ends the interval fsync
	done     chan struct{}
	draining atomic.Bool
}

// Open opens or creates the spool in cfg.Dir, counts what it holds (a
// previous process's batches are drained like new ones) and registers its
// metrics on reg.
func Open(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Spool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		cfg: cfg, log: log, lock: lock, now: time.Now,
		retryMin: 100 * time.Millisecond, retryMax: 5 * time.Second, groupBytes: 1 << 20,
		wake: make(chan struct{}, 1),
	}
	if err := s.load(); err != nil {
		return nil, errors.Join(err, s.closeFiles())
	}
	if s.m, err = newMetrics(reg, s); err != nil {
		return nil, errors.Join(err, s.closeFiles())
	}
	if cfg.FsyncInterval > 0 {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.fsyncEvery(cfg.FsyncInterval)
	}
	return s, nil
}

// load reads the directory: segments, checkpoint, and the records and age
// of what Kafka has not acknowledged. Damage found here is left for the
// drainer to skip and count.
func (s *Spool) load() error {
	var err error
	if s.segs, err = listSegments(s.cfg.Dir); err != nil {
		return err
	}
	if s.ckpt, err = os.OpenFile(filepath.Join(s.cfg.Dir, checkpointFile), os.O_RDWR|os.O_CREATE, 0o640); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	ck, ok, err := readCheckpoint(s.ckpt)
	if err != nil {
		return err
	}
	s.nextSeq = ck.seq + 1 // sequence numbers never repeat, so a stale checkpoint never matches
	for _, seg := range s.segs {
		s.bytes += seg.size
		s.nextSeq = max(s.nextSeq, seg.seq+1)
	}
	if ok && len(s.segs) > 0 && ck.seq == s.segs[0].seq && ck.off <= s.segs[0].size {
		s.start = ck
	}
	for _, seg := range s.segs {
		if err := s.count(seg); err != nil {
			return err
		}
	}
	if len(s.segs) > 0 {
		s.log.Info("spool holds batches from before; draining them when Kafka answers",
			"dir", s.cfg.Dir, "segments", len(s.segs), "bytes", s.bytes, "records", s.records)
	}
	return nil
}

// count adds seg's unacknowledged records to s.records.
func (s *Spool) count(seg segment) error {
	f, err := os.Open(segmentPath(s.cfg.Dir, seg.seq))
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	var off int64
	if seg.seq == s.start.seq {
		off = s.start.off
	}
	for off < seg.size {
		fr, err := readFrame(f, off, seg.size)
		if err != nil {
			return err
		}
		if fr.recs != nil && s.oldest.IsZero() {
			s.oldest = fr.appended
		}
		s.records += int64(len(fr.recs))
		off = fr.end
	}
	return nil
}

// Usage is what a spool holds.
type Usage struct {
	Records  int64 // records Kafka has not acknowledged
	Bytes    int64 // segment files on disk, of at most MaxBytes
	MaxBytes int64
}

// Usage says what the spool holds now: readiness reports it, and while
// Records is above zero new batches belong behind the spooled ones, so
// that one visitor's events reach Kafka in order.
func (s *Spool) Usage() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Usage{Records: s.records, Bytes: s.bytes, MaxBytes: s.cfg.MaxBytes}
}

// Close fsyncs and closes the spool's files. Run must have returned.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.stop != nil {
		close(s.stop)
		<-s.done
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, f := range s.retired {
		errs = append(errs, f.Sync(), f.Close())
	}
	s.retired = nil
	if s.w != nil {
		errs = append(errs, s.w.Sync(), s.w.Close())
		s.w = nil
	}
	errs = append(errs, s.closeFiles())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}

func (s *Spool) closeFiles() error {
	var errs []error
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.Close())
	}
	return errors.Join(append(errs, s.lock.Close())...)
}
