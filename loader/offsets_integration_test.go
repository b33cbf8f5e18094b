package loader_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/testenv"
)

// A ClickHouse outage pauses the loader; when ClickHouse is back every event
// is there once, including a batch whose insert landed but whose answer was
// lost (the retry finds its ids in the table and inserts nothing twice).
func TestLoaderRetriesFailedWritesWithoutLoss(t *testing.T) {
	r := newRig(t)
	var sent []*event.Event
	for _, v := range []string{"anon-a", "anon-b", "anon-c"} {
		sent = append(sent, visit(10, v)...)
	}
	r.produce(sent...)
	sink := &flakySink{next: r.sink(), plan: func(n int) failure {
		switch {
		case n <= 2:
			return failBefore
		case n == 3:
			return failAfter
		}
		return succeed
	}}
	group := r.group()
	r.startLoader(context.Background(), group, sink)
	r.waitCaughtUp(group)

	attempts, failures, resent := sink.stats()
	if failures != 3 || attempts <= failures || resent == 0 {
		t.Fatalf("sink saw %d attempts, %d failures, %d events resent: the outage was not exercised", attempts, failures, resent)
	}
	n := uint64(len(sent))
	c, err := r.counts()
	if err != nil {
		t.Fatal(err)
	}
	// Failed attempts before the insert add nothing; the retry of the
	// batch whose answer was lost finds its ids in the table and inserts
	// none of them again: every id is there once, even before merges.
	if c.final != n || c.distinct != n || c.raw != n {
		t.Errorf("events table has %+v, want %d rows of %d distinct ids", c, n, n)
	}
	ids := r.ids()
	for _, e := range sent {
		if ids[e.ID] == 0 {
			t.Errorf("event %s (%s of %s) lost", e.ID, e.Type, e.AnonymousID)
		}
	}
}

// A loader stopped while ClickHouse is down commits nothing it has not
// written, even if ClickHouse comes back just as it shuts down; the next
// loader of the group re-reads what the first could not write.
func TestLoaderStoppedDuringOutageCommitsOnlyWhatItWrote(t *testing.T) {
	r := newRig(t)
	sent := pageviews(20, "anon-a") // one visitor: one partition, in order
	r.produce(sent...)
	stored := r.located(sent)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stopping, recovered atomic.Bool
	sink := &flakySink{next: r.sink(), plan: func(int) failure {
		if recovered.Load() {
			return succeed
		}
		if stopping.Load() {
			// Shut down mid-outage; ClickHouse is back a moment later,
			// while the loader finishes the batches in hand.
			cancel()
			recovered.Store(true)
		}
		return failBefore
	}}
	group := r.group()
	stop := r.startLoader(ctx, group, sink)

	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		attempts, _, _ := sink.stats()
		return attempts >= 2, fmt.Sprintf("%d write attempts", attempts)
	})
	pos, err := r.positions(group)
	if err != nil {
		t.Fatal(err)
	}
	for tp, p := range pos {
		if p.committed >= 0 {
			t.Errorf("%s committed at %d while every write failed", tp, p.committed)
		}
	}
	stopping.Store(true)
	select { // the next retry stops the loader
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the loader did not retry its failed write within 10s")
	}
	stop()
	if _, failures, _ := sink.stats(); failures < 3 {
		t.Fatalf("sink failed %d writes, want the loader stopped mid-outage", failures)
	}

	// Every offset the group committed must be backed by rows.
	pos, err = r.positions(group)
	if err != nil {
		t.Fatal(err)
	}
	loaded := r.ids()
	for i, m := range stored {
		p := pos[fmt.Sprintf("%s/%d", m.Topic, m.Partition)]
		if m.Offset < p.committed && loaded[sent[i].ID] == 0 {
			t.Errorf("offset %d of %s/%d is committed (at %d) but its event is not in ClickHouse", m.Offset, m.Topic, m.Partition, p.committed)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	stop = r.startLoader(context.Background(), group, r.sink())
	r.waitCaughtUp(group)
	stop()
	n := uint64(len(sent))
	c, err := r.counts()
	if err != nil {
		t.Fatal(err)
	}
	if c.final != n || c.distinct != n {
		t.Errorf("events table has %+v, want %d events after the second loader", c, n)
	}
	loaded = r.ids()
	for i, e := range sent {
		if loaded[e.ID] == 0 {
			t.Errorf("event %d (%s) lost", i, e.ID)
		}
	}
}

// A loader restarted in the same group resumes where the last one committed:
// only the new events are inserted, none of the old ones again.
func TestLoaderRestartLoadsOnlyNewEvents(t *testing.T) {
	r := newRig(t)
	group := r.group()
	first := append(visit(8, "anon-a"), visit(8, "anon-b")...)
	r.produce(first...)
	stop := r.startLoader(context.Background(), group, r.sink())
	r.waitCaughtUp(group)
	stop()
	n1 := uint64(len(first))
	if c, err := r.counts(); err != nil || c != (counts{raw: n1, final: n1, distinct: n1}) {
		t.Fatalf("after the first loader: %+v (%v), want %d of each", c, err, n1)
	}

	second := append(visit(6, "anon-a"), visit(6, "anon-c")...)
	r.produce(second...)
	sink := &flakySink{next: r.sink()}
	stop = r.startLoader(context.Background(), group, sink)
	r.waitCaughtUp(group)
	stop()

	inserted := sink.inserted()
	for _, e := range first {
		if inserted[e.ID] != 0 {
			t.Errorf("old event %s (%s of %s) inserted again after the restart", e.ID, e.Type, e.AnonymousID)
		}
	}
	for _, e := range second {
		if inserted[e.ID] != 1 {
			t.Errorf("new event %s (%s of %s) inserted %d times after the restart, want 1", e.ID, e.Type, e.AnonymousID, inserted[e.ID])
		}
	}
	n := n1 + uint64(len(second))
	c, err := r.counts()
	if err != nil {
		t.Fatal(err)
	}
	if c != (counts{raw: n, final: n, distinct: n}) {
		t.Errorf("after the restart: %+v, want %d of each", c, n)
	}
	ids := r.ids()
	for _, e := range append(first, second...) {
		if ids[e.ID] != 1 {
			t.Errorf("event %s (%s of %s) has %d rows, want 1", e.ID, e.Type, e.AnonymousID, ids[e.ID])
		}
	}
}
