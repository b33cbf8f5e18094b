package generate

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
)

// testConfig is a month of 200 000 events, ending at a fixed time.
func testConfig() Config {
	c := DefaultConfig()
	c.Events = 200_000
	c.End = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	return c
}

func all(t *testing.T, c Config) []*event.Event {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s := NewStream(c)
	var out []*event.Event
	for b := s.Batch(c.Batch); len(b) > 0; b = s.Batch(c.Batch) {
		out = append(out, b...)
	}
	return out
}

func TestSameSeedSameEvents(t *testing.T) {
	c := testConfig()
	c.Events, c.Batch = 30_000, 7_000
	a, b := all(t, c), all(t, c)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("two streams of one config differ")
	}
	c.Seed++
	other := all(t, c)
	if other[0].ID == a[0].ID || other[0].TS == a[0].TS {
		t.Errorf("seed %d gives the first event of seed %d", c.Seed, c.Seed-1)
	}
}

// TestBatchSizeDoesNotChangeEvents: batching is only how the events are
// cut, so a run can change --generate-batch and still resume.
func TestBatchSizeDoesNotChangeEvents(t *testing.T) {
	c := testConfig()
	c.Events = 20_000
	c.Batch = 20_000
	one := all(t, c)
	c.Batch = 333
	many := all(t, c)
	if !reflect.DeepEqual(one, many) {
		t.Fatal("batch size changed the events")
	}
}

func TestEveryEventIsValidAndInOrder(t *testing.T) {
	for _, c := range []Config{
		testConfig(),
		func() Config { c := testConfig(); c.Events, c.Days = 5_000, 1; return c }(),
		func() Config { c := testConfig(); c.Events, c.Days = 50, 7; return c }(),
		func() Config { c := testConfig(); c.Events, c.Days, c.BotShare = 40_000, 2, 0; return c }(),
	} {
		events := all(t, c)
		if len(events) != c.Events {
			t.Errorf("%d events over %d days: got %d", c.Events, c.Days, len(events))
		}
		start, end := c.start().UnixMilli(), c.End.UnixMilli()
		ids := map[string]bool{}
		var last int64
		for i, e := range events {
			if r := event.Validate(e, event.DefaultLimits); r != nil {
				t.Fatalf("event %d (%s): %s %s", i, e.Type, r.Reason, r.Detail)
			}
			switch {
			case ids[e.ID]:
				t.Fatalf("event %d: id %s twice", i, e.ID)
			case e.TS < last:
				t.Fatalf("event %d at %d after one at %d", i, e.TS, last)
			case e.TS < start || e.TS >= end:
				t.Fatalf("event %d at %s, outside the span", i, time.UnixMilli(e.TS).UTC())
			case e.SiteID != c.Site || e.SessionID == "" || e.UserAgent == "" || e.IP == "" || e.Browser == "" || e.OS == "" || e.Device == "":
				t.Fatalf("event %d lacks what the collector stamps: %+v", i, e)
			case e.ReceivedAt <= e.TS || e.ReceivedAt > e.TS+5000:
				t.Fatalf("event %d received %d ms after it happened", i, e.ReceivedAt-e.TS)
			case e.Page == nil || !strings.HasPrefix(e.Page.URL, "https://"+c.Site+".example.com/"):
				t.Fatalf("event %d has page %+v", i, e.Page)
			case e.Type == event.Search && (e.SearchKeyword != e.Search.Keyword || e.Search.Results == nil):
				t.Fatalf("search %d not derived as the collector would: %+v", i, e)
			}
			ids[e.ID], last = true, e.TS
		}
	}
}

func TestRunWritesBatchesToTheSink(t *testing.T) {
	c := testConfig()
	c.Events, c.Batch = 12_345, 5_000
	var sink recorder
	sum, err := Run(context.Background(), c, &sink, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != c.Events || sum.Batches != 3 || len(sink.sizes) != 3 || sink.sizes[2] != 2_345 {
		t.Errorf("summary %+v, batch sizes %v", sum, sink.sizes)
	}
	if !sum.From.Before(sum.To) {
		t.Errorf("from %s to %s", sum.From, sum.To)
	}

	failing := recorder{fail: errors.New("clickhouse is down")}
	if _, err := Run(context.Background(), c, &failing, slog.New(slog.DiscardHandler)); !errors.Is(err, failing.fail) {
		t.Errorf("a failing sink gives %v", err)
	}
	if len(failing.sizes) != 1 {
		t.Errorf("Run went on after a failed write: %v", failing.sizes)
	}
}

type recorder struct {
	sizes []int
	fail  error
}

func (r *recorder) Write(_ context.Context, events []*event.Event) error {
	r.sizes = append(r.sizes, len(events))
	return r.fail
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		flag string
		edit func(*Config)
	}{
		{"generate-events", func(c *Config) { c.Events = 0 }},
		{"generate-days", func(c *Config) { c.Days = 0 }},
		{"generate-site", func(c *Config) { c.Site = "" }},
		{"generate-batch", func(c *Config) { c.Batch = 0 }},
		{"generate-end", func(c *Config) { c.End = time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC) }},
		{"generate-bot-share", func(c *Config) { c.BotShare = 0.9 }},
	} {
		c := DefaultConfig()
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--"+tc.flag+"=") {
			t.Errorf("%s: got %v", tc.flag, err)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
}
