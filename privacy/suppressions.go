// Package privacy forgets a visitor (issue 15): it deletes what Footfall
// holds about a user id and every anonymous id linked to it, in
// PostgreSQL and ClickHouse, and keeps a suppression list on Kafka that
// makes the collector, the loader and the enricher drop that visitor's
// later events until an operator lifts it (docs/privacy.md).
package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

// Kinds of suppressed id.
const (
	KindUser      = "user"
	KindAnonymous = "anonymous"
)

// Suppression is one record of the suppressions topic, keyed site:id. The
// topic is compacted, so the latest record of an id is what it says:
// suppressed, or lifted.
type Suppression struct {
	Site string `json:"site"`
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// User is, for an anonymous id, the user id it was forgotten with: a
	// forget run again after a failure finds the anonymous ids here even
	// once their links are deleted.
	User        string    `json:"user,omitempty"`
	ForgottenAt time.Time `json:"forgotten_at"`
	Lifted      bool      `json:"lifted,omitempty"`
}

// Key is the record's Kafka key: every record of one id lands on one
// partition, in order, and compaction keeps the latest.
func (s Suppression) Key() string { return s.Site + ":" + s.ID }

func (s Suppression) record(prefix string) (kafka.Record, error) {
	v, err := json.Marshal(s)
	if err != nil {
		return kafka.Record{}, fmt.Errorf("encode suppression: %w", err)
	}
	return kafka.Record{Topic: event.SuppressionsTopic(prefix), Key: []byte(s.Key()), Value: v}, nil
}

// errNotCaughtUp is readiness's answer until the topic has been read to
// the end it had when the set started reading it.
var errNotCaughtUp = errors.New("suppressions topic not read to its end yet")

// Suppressions is the set of suppressed ids, kept current by following
// the suppressions topic from its oldest record. The collector, the
// loader and the enricher each hold one; Follow starts it.
type Suppressions struct {
	kc     kafka.Config
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.RWMutex
	ids    map[siteID]Suppression
	pos    map[int32]int64 // by partition, the next offset to read
	moved  chan struct{}   // closed, and made anew, as pos moves
	caught chan struct{}   // closed once the topic was read to its end
	once   sync.Once

	inMu sync.Mutex
	in   *kafka.Inspector // for Current; opened on first use
}

type siteID struct{ site, id string }

// Follow starts reading the suppressions topic under kc's prefix into a
// set, until Close. Suppressed answers false for everything until the
// topic has been read to its end (Ready, Wait).
func Follow(kc kafka.Config, log *slog.Logger) *Suppressions {
	ctx, cancel := context.WithCancel(context.Background())
	s := empty(kc, log)
	s.cancel = cancel
	go func() {
		defer close(s.done)
		s.run(ctx)
	}()
	return s
}

// empty is a set that follows nothing yet.
func empty(kc kafka.Config, log *slog.Logger) *Suppressions {
	return &Suppressions{
		kc: kc, log: log.With("component", "suppressions"), cancel: func() {}, done: make(chan struct{}),
		ids: map[siteID]Suppression{}, pos: map[int32]int64{}, moved: make(chan struct{}), caught: make(chan struct{}),
	}
}

// Close stops following the topic.
func (s *Suppressions) Close() error {
	s.cancel()
	<-s.done
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.in != nil {
		_ = s.in.Close() // read-only
		s.in = nil
	}
	return nil
}

// Ready is nil once the set holds every suppression the topic held when
// the set started: a readiness check.
func (s *Suppressions) Ready(context.Context) error {
	select {
	case <-s.caught:
		return nil
	default:
		return errNotCaughtUp
	}
}

// Wait returns once the set is ready, or ctx ends.
func (s *Suppressions) Wait(ctx context.Context) error {
	select {
	case <-s.caught:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the suppressions topic: %w", ctx.Err())
	}
}

// Current returns once the set holds every suppression the topic held
// when it was called (or ctx ends). The loader and the enricher call it
// before they apply a batch: an event that reached Kafka after a forget
// published its suppressions is then judged by them, which is what lets
// the forget stop waiting once their offsets pass the event topics' ends
// (barrier.go). It costs one offsets request per broker.
func (s *Suppressions) Current(ctx context.Context) error {
	if err := s.Wait(ctx); err != nil {
		return err
	}
	ends, err := s.ends()
	if err != nil {
		return err
	}
	for {
		s.mu.RLock()
		behind, moved := "", s.moved
		for p, end := range ends {
			// A partition added after the set started following the
			// topic is not read until it starts again: not waited for.
			if at, ok := s.pos[p]; ok && at < end {
				behind = fmt.Sprintf("partition %d read to %d of %d", p, s.pos[p], end)
				break
			}
		}
		s.mu.RUnlock()
		if behind == "" {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("read the suppressions topic to its end (%s): %w", behind, ctx.Err())
		}
	}
}

// ends are the newest offsets of the topic's partitions: one request per
// broker leading any of them.
func (s *Suppressions) ends() (map[int32]int64, error) {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.in == nil {
		in, err := kafka.NewInspector(s.kc)
		if err != nil {
			return nil, err
		}
		s.in = in
	}
	ends, err := s.in.NewestOffsets(event.SuppressionsTopic(s.kc.TopicPrefix))
	if err != nil {
		_ = s.in.Close() // read-only; opened again, with fresh metadata, next time
		s.in = nil
		return nil, fmt.Errorf("offsets of the suppressions topic: %w", err)
	}
	return ends, nil
}

// Suppressed reports whether an event of site with these ids is to be
// dropped: either id is suppressed. An empty id matches nothing.
func (s *Suppressions) Suppressed(site, anonymousID, userID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.ids) == 0 {
		return false
	}
	for _, id := range [2]string{anonymousID, userID} {
		if id == "" {
			continue
		}
		if _, ok := s.ids[siteID{site, id}]; ok {
			return true
		}
	}
	return false
}

// AnonymousIDsOf returns the anonymous ids suppressed together with user.
func (s *Suppressions) AnonymousIDsOf(site, user string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for k, sup := range s.ids {
		if k.site == site && sup.Kind == KindAnonymous && sup.User == user {
			out = append(out, k.id)
		}
	}
	return out
}

// Len is how many ids are suppressed.
func (s *Suppressions) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.ids)
}

// run follows the topic until ctx ends, starting over after a failure
// (Kafka away, the topic not created yet).
func (s *Suppressions) run(ctx context.Context) {
	wait := time.Second
	for {
		err := s.followOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("follow the suppressions topic; starting over", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// followOnce reads every partition from its oldest record. Records read
// again after a restart change nothing: each says what its id is now.
func (s *Suppressions) followOnce(ctx context.Context) error {
	topic := event.SuppressionsTopic(s.kc.TopicPrefix)
	in, err := kafka.NewInspector(s.kc)
	if err != nil {
		return err
	}
	spans, err := in.Spans(topic)
	if cerr := in.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("offsets of %s (has `footfall migrate` created it?): %w", topic, err)
	}
	from, end := map[int32]int64{}, map[int32]int64{}
	for _, sp := range spans {
		from[sp.Partition] = sp.Oldest
		if sp.Newest > sp.Oldest {
			end[sp.Partition] = sp.Newest
		}
	}
	s.mu.Lock()
	for p, off := range from {
		s.pos[p] = max(s.pos[p], off)
	}
	s.mu.Unlock()
	s.caughtUpTo(end, -1, 0)
	tail, err := kafka.NewTail(s.kc, "footfall-suppressions", s.log)
	if err != nil {
		return err
	}
	defer func() {
		if err := tail.Close(); err != nil {
			s.log.Warn("close kafka tail", "err", err)
		}
	}()
	return tail.Run(ctx, topic, from, func(r kafka.Record) {
		s.take(r)
		s.caughtUpTo(end, r.Partition, r.Offset)
	})
}

// caughtUpTo marks the set ready once every partition of end has been
// read up to its end; partition -1 only checks.
func (s *Suppressions) caughtUpTo(end map[int32]int64, partition int32, offset int64) {
	if e, ok := end[partition]; ok && offset+1 >= e {
		delete(end, partition)
	}
	if len(end) == 0 {
		s.once.Do(func() {
			close(s.caught)
			s.log.Info("suppressions read", "ids", s.Len())
		})
	}
}

// take applies one record: the latest record of an id wins.
func (s *Suppressions) take(r kafka.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pos[r.Partition] = max(s.pos[r.Partition], r.Offset+1)
	close(s.moved)
	s.moved = make(chan struct{})
	var sup Suppression
	if err := json.Unmarshal(r.Value, &sup); err != nil || sup.Site == "" || sup.ID == "" {
		s.log.Warn("skip a suppressions record that is not one", "partition", r.Partition, "offset", r.Offset, "err", err)
		return
	}
	k := siteID{sup.Site, sup.ID}
	if sup.Lifted {
		delete(s.ids, k)
		return
	}
	s.ids[k] = sup
}
