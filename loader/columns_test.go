package loader

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"reflect"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/generate"
)

// TestColumnsHoldWhatRowsHeld: the columns of a block hold, row by row,
// the values the loader appended one row at a time before it appended
// whole columns (row below, also BenchmarkLoaderSinkBaseline's rows).
func TestColumnsHoldWhatRowsHeld(t *testing.T) {
	cfg := generate.DefaultConfig()
	cfg.Events, cfg.Days, cfg.Batch = 2000, 1, 2000
	cfg.End = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	events := generate.NewStream(cfg).Batch(cfg.Batch)
	results := 3
	events = append(events, &event.Event{ID: "bare", Type: event.Type("custom")}, &event.Event{
		ID: "full", Type: event.Type("search"), TS: -5, UserVerified: true, Bot: true,
		Search: &event.SearchDetail{Keyword: "k", Results: &results}, Scroll: &event.ScrollDetail{DepthPct: 140},
		Form: &event.FormDetail{FormID: "f", Action: "/a"}, Click: &event.ClickDetail{Selector: "s", Text: "t", Href: "h", Tag: "a"},
		Context: &event.Context{Locale: "fr", UTM: &event.UTM{Source: "news"}}, Props: event.Props{"only": "one"},
	})
	cols := newEventColumns(len(events))
	for _, e := range events {
		cols.add(e)
	}
	b := &recordingBatch{}
	if err := cols.appendTo(b); err != nil {
		t.Fatal(err)
	}
	if len(b.columns) != len(columns) {
		t.Fatalf("%d columns appended, want %d", len(b.columns), len(columns))
	}
	props := slices.Index(columns, "props.key")
	for i, e := range events {
		want := row(e)
		got := make([]any, len(b.columns))
		for c, col := range b.columns {
			got[c] = reflect.ValueOf(col).Index(i).Interface()
		}
		// Props come in map order: compare them as maps.
		if g, w := propMap(got[props], got[props+1]), propMap(want[props], want[props+1]); !maps.Equal(g, w) {
			t.Fatalf("event %d (%s) props = %v, want %v", i, e.ID, g, w)
		}
		got[props], got[props+1], want[props], want[props+1] = nil, nil, nil, nil
		for c := range got {
			if !reflect.DeepEqual(got[c], want[c]) {
				t.Fatalf("event %d (%s) column %s = %#v, want %#v", i, e.ID, columns[c], got[c], want[c])
			}
		}
	}
}

func propMap(keys, values any) map[string]string {
	m := map[string]string{}
	for i, k := range keys.([]string) {
		m[k] = values.([]string)[i]
	}
	return m
}

// recordingBatch keeps the columns appended to it.
type recordingBatch struct{ columns []any }

func (b *recordingBatch) Column(i int) driver.BatchColumn { return recordedColumn{b, i} }

type recordedColumn struct {
	b *recordingBatch
	i int
}

func (c recordedColumn) Append(v any) error {
	if c.i != len(c.b.columns) {
		return fmt.Errorf("column %d appended after %d others", c.i, len(c.b.columns))
	}
	c.b.columns = append(c.b.columns, v)
	return nil
}

func (c recordedColumn) AppendRow(any) error { return errors.New("rows one by one") }
