package enricher_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

// An event PostgreSQL refuses (its id is no UUID: the collector would have
// rejected it, but not every producer goes through the collector) goes to
// PREFIX.dead once, with the reason and where it came from. The good
// events of its batch still apply, the group moves on, and a restarted
// enricher does not meet it again.
func TestEnricherDeadLettersPoisonEvent(t *testing.T) {
	r := newRig(t)
	cfg := config(r.group())
	cfg.Batch.Age = time.Second // the three records below share a batch
	w := searchWeight
	humid := map[string]float64{"humidifier-deal": w, "humidifier-filters": w}

	// The poison comes from anon-a, as the search before it: same key, same
	// partition. Were it applied, anon-a would get the fan deal.
	poison := search("anon-a", "tower fans")
	poison.ID = "not-a-uuid-but-an-id"
	value, err := json.Marshal(poison)
	if err != nil {
		t.Fatal(err)
	}
	topic := event.Topic(r.kc.TopicPrefix, event.Search)
	good := search("anon-c", "humidifier")
	r.produce(search("anon-a", "humidifier"))
	r.publish(kafka.Record{Topic: topic, Key: []byte(poison.Key()), Value: value})
	r.produce(good)
	at, second := r.stored(poison), r.stored(good)
	// What follows needs the poison last on its partition: nothing applied
	// after it moves the stored offset past it but the dead letter.
	if second.Partition == at.Partition {
		t.Fatalf("test setup: anon-c's search shares partition %d with the poison; pick a visitor on another partition", at.Partition)
	}

	stop := r.startEnricher(cfg)
	r.waitApplied(cfg.Group)
	for _, visitor := range []string{"anon-a", "anon-c"} {
		if got := r.scores(visitor); !reflect.DeepEqual(got, humid) {
			t.Errorf("%s has %v, want %v: the good searches of the poison's batch apply, the poison does not", visitor, got, humid)
		}
	}
	letters := r.deadLetters(value)
	if len(letters) != 1 {
		t.Fatalf("the poison is on the dead-letter topic %d times, want once", len(letters))
	}
	d := letters[0]
	if reason := string(d.Header(kafka.HeaderDeadReason)); !strings.Contains(reason, "uuid") {
		t.Errorf("dead letter reason %q, want PostgreSQL's word about the uuid", reason)
	}
	wantHeaders := map[string]string{
		kafka.HeaderDeadTopic:     topic,
		kafka.HeaderDeadPartition: strconv.Itoa(int(at.Partition)),
		kafka.HeaderDeadOffset:    strconv.FormatInt(at.Offset, 10),
		kafka.HeaderDeadGroup:     cfg.Group,
	}
	for h, v := range wantHeaders {
		if got := string(d.Header(h)); got != v {
			t.Errorf("dead letter header %s = %q, want %q", h, got, v)
		}
	}
	offsets, err := r.storedOffsets(cfg.Group)
	if err != nil {
		t.Fatal(err)
	}
	if tp := fmt.Sprintf("%s/%d", at.Topic, at.Partition); offsets[tp] <= at.Offset {
		t.Errorf("PostgreSQL stores offset %d of %s, want past the poison at %d", offsets[tp], tp, at.Offset)
	}

	// The group moves on.
	r.produce(search("anon-c", "kettle"))
	r.waitApplied(cfg.Group)
	if got, want := r.scores("anon-c"), (map[string]float64{"humidifier-deal": w, "humidifier-filters": w, "kettle-deal": w}); !reflect.DeepEqual(got, want) {
		t.Errorf("a search after the poison gave anon-c %v, want %v", got, want)
	}

	// A restarted enricher resumes past the poison: a new search of anon-a,
	// behind the poison on its partition, applies without the poison being
	// met again.
	stop()
	r.startEnricher(cfg)
	r.produce(search("anon-a", "wool blanket"))
	r.waitApplied(cfg.Group)
	if got, want := r.scores("anon-a"), (map[string]float64{"humidifier-deal": w, "humidifier-filters": w, "blanket-deal": w}); !reflect.DeepEqual(got, want) {
		t.Errorf("after the restart anon-a has %v, want %v", got, want)
	}
	if n := len(r.deadLetters(value)); n != 1 {
		t.Errorf("after the restart the poison is on the dead-letter topic %d times, want once", n)
	}
}

// stored returns the record e was stored as, which knows its partition
// and offset.
func (r *rig) stored(e *event.Event) kafka.Record {
	r.t.Helper()
	value, err := json.Marshal(e)
	if err != nil {
		r.t.Fatal(err)
	}
	topic := event.Topic(r.kc.TopicPrefix, e.Type)
	var found []kafka.Record
	for _, rec := range r.read(topic) {
		if bytes.Equal(rec.Value, value) {
			found = append(found, rec)
		}
	}
	if len(found) != 1 {
		r.t.Fatalf("%s holds event %s %d times, want once", topic, e.ID, len(found))
	}
	return found[0]
}

// deadLetters returns the records on the dead-letter topic whose value is
// value.
func (r *rig) deadLetters(value []byte) []kafka.Record {
	r.t.Helper()
	var out []kafka.Record
	for _, d := range r.read(event.DeadTopic(r.kc.TopicPrefix)) {
		if bytes.Equal(d.Value, value) {
			out = append(out, d)
		}
	}
	return out
}
