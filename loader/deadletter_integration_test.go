package loader_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/loader"
)

// A record the loader can never write (not JSON, or an event whose time
// ClickHouse's DateTime cannot hold) goes to PREFIX.dead once, with the
// reason; the events around it load once each and the group commits past
// it instead of stalling its partition.
func TestLoaderDeadLettersARowItCanNeverWrite(t *testing.T) {
	r := newRig(t)
	topic := event.Topic(r.kc.TopicPrefix, event.Pageview)
	views := pageviews(4, "anon-a") // one visitor: one partition, in order
	// No server time to fall back on, and a client time 285,000 years
	// ahead: far past DateTime's last second (2106-02-07).
	badTime := pageviews(1, "anon-a")[0]
	badTime.ReceivedAt, badTime.TS = 0, 9e15
	notJSON := kafka.Record{Topic: topic, Key: []byte("shop:anon-a"), Value: []byte("{not json")}

	r.produce(views[0])
	r.publish(notJSON)
	r.produce(views[1], badTime, views[2], views[3])
	others := visit(8, "anon-b")
	r.produce(others...)
	good := append(append([]*event.Event(nil), views...), others...)

	group := r.group()
	r.startLoader(context.Background(), group, r.sink())
	r.waitCaughtUp(group)

	// Where each bad record was stored, to recognise its dead letter.
	var stored []kafka.Record
	for _, rec := range r.read(topic) {
		if bytes.Equal(rec.Value, notJSON.Value) {
			stored = append(stored, rec)
		}
	}
	if len(stored) != 1 {
		t.Fatalf("%s holds the non-JSON record %d times, want 1", topic, len(stored))
	}
	stored = append(stored, r.located([]*event.Event{badTime})...)
	dead := r.read(event.DeadTopic(r.kc.TopicPrefix))
	pos, err := r.positions(group)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"not JSON", "time outside DateTime"} {
		bad := stored[i]
		t.Run(name, func(t *testing.T) {
			var letters []kafka.Record
			for _, d := range dead {
				if bytes.Equal(d.Value, bad.Value) {
					letters = append(letters, d)
				}
			}
			if len(letters) != 1 {
				t.Fatalf("%s/%d@%d is on the dead-letter topic %d times, want once (dead letters: %d)", bad.Topic, bad.Partition, bad.Offset, len(letters), len(dead))
			}
			d := letters[0]
			if reason := d.Header(kafka.HeaderDeadReason); len(reason) == 0 {
				t.Errorf("dead letter has no %s header", kafka.HeaderDeadReason)
			}
			want := map[string]string{
				kafka.HeaderDeadTopic:     bad.Topic,
				kafka.HeaderDeadPartition: strconv.Itoa(int(bad.Partition)),
				kafka.HeaderDeadOffset:    strconv.FormatInt(bad.Offset, 10),
				kafka.HeaderDeadGroup:     group,
			}
			for h, v := range want {
				if got := string(d.Header(h)); got != v {
					t.Errorf("dead letter header %s = %q, want %q", h, got, v)
				}
			}
			if !bytes.Equal(d.Key, bad.Key) {
				t.Errorf("dead letter key %q, want the record's %q", d.Key, bad.Key)
			}
			p := pos[fmt.Sprintf("%s/%d", bad.Topic, bad.Partition)]
			if p.committed <= bad.Offset {
				t.Errorf("group committed %s/%d at %d, not past the bad record at %d", bad.Topic, bad.Partition, p.committed, bad.Offset)
			}
		})
	}
	if len(dead) != 2 {
		t.Errorf("the dead-letter topic holds %d records, want the 2 bad ones", len(dead))
	}

	n := uint64(len(good))
	c, err := r.counts()
	if err != nil {
		t.Fatal(err)
	}
	if c != (counts{raw: n, final: n, distinct: n}) {
		t.Errorf("events table has %+v, want %d of each: every good event exactly once", c, n)
	}
	ids := r.ids()
	for _, e := range good {
		if ids[e.ID] != 1 {
			t.Errorf("good event %s (%s of %s) has %d rows, want 1", e.ID, e.Type, e.AnonymousID, ids[e.ID])
		}
	}
	if ids[badTime.ID] != 0 {
		var at string
		if err := r.conn.QueryRow(context.Background(), "SELECT toString(time) FROM events WHERE id = ?", badTime.ID).Scan(&at); err != nil {
			t.Fatal(err)
		}
		t.Errorf("the event with ts %d and no received_at was loaded with time %s instead of being dead-lettered", badTime.TS, at)
	}
}

// refusingSink is the real sink, except that it refuses the events refuse
// picks, as a sink refuses a row it can never write.
type refusingSink struct {
	next   loader.Sink
	refuse func(*event.Event) bool
}

func (s refusingSink) Write(ctx context.Context, events []*event.Event) error {
	for i, e := range events {
		if s.refuse(e) {
			return &loader.RowError{Row: i, Err: fmt.Errorf("test: event %s refused", e.ID)}
		}
	}
	return s.next.Write(ctx, events)
}

// A sink names the refused row by its place among the events it was given;
// the loader dead-letters the record that row came from, even when a
// duplicate earlier in the batch shifted the rows against the records.
func TestLoaderDeadLettersTheRecordOfTheRowASinkRefuses(t *testing.T) {
	r := newRig(t)
	views := pageviews(4, "anon-a") // one partition, in order
	refused := views[2]
	// views[0] twice: the sink sees one row for the two records, so the
	// refused event is row 2 but record 3.
	r.produce(views[0], views[0], views[1], refused, views[3])
	sink := refusingSink{next: r.sink(), refuse: func(e *event.Event) bool { return e.ID == refused.ID }}
	group := r.group()
	r.startLoader(context.Background(), group, sink)
	r.waitCaughtUp(group)

	want := r.located([]*event.Event{refused})[0]
	dead := r.read(event.DeadTopic(r.kc.TopicPrefix))
	if len(dead) != 1 {
		t.Fatalf("the dead-letter topic holds %d records, want the refused one", len(dead))
	}
	if got := string(dead[0].Header(kafka.HeaderDeadOffset)); got != strconv.FormatInt(want.Offset, 10) {
		t.Errorf("dead letter is of offset %s, want the refused event's %d", got, want.Offset)
	}
	if !bytes.Equal(dead[0].Value, want.Value) {
		t.Errorf("dead letter holds %s, want the refused event %s", dead[0].Value, want.Value)
	}
	ids := r.ids()
	for _, e := range views {
		if n, want := ids[e.ID], uint64(1); e != refused && n != want {
			t.Errorf("event %s has %d rows, want %d", e.ID, n, want)
		}
	}
	if n := ids[refused.ID]; n != 0 {
		t.Errorf("the refused event has %d rows, want none", n)
	}
}
