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

// row is an event as the values of one row, in the order of columns: how
// the loader appended rows before it appended columns.
func row(e *event.Event) []any {
	var page event.Page
	if e.Page != nil {
		page = *e.Page
	}
	var search event.SearchDetail
	results := int32(-1) // unknown
	if e.Search != nil {
		search = *e.Search
		if search.Results != nil {
			results = int32(*search.Results)
		}
	}
	var click event.ClickDetail
	if e.Click != nil {
		click = *e.Click
	}
	var depth uint8
	if e.Scroll != nil {
		depth = uint8(min(max(e.Scroll.DepthPct, 0), 100))
	}
	var form event.FormDetail
	if e.Form != nil {
		form = *e.Form
	}
	var ctx event.Context
	var utm event.UTM
	if e.Context != nil {
		ctx = *e.Context
		if ctx.UTM != nil {
			utm = *ctx.UTM
		}
	}
	keys := make([]string, 0, len(e.Props))
	values := make([]string, 0, len(e.Props))
	for k, v := range e.Props {
		keys = append(keys, k)
		values = append(values, propString(v))
	}
	var bot, verified uint8
	if e.Bot {
		bot = 1
	}
	if e.UserVerified {
		verified = 1
	}
	return []any{
		e.ID, string(e.Type), e.Name, e.SiteID, eventTime(e), uint64(max(e.TS, 0)), uint64(max(e.OriginalTS, 0)), time.UnixMilli(e.ReceivedAt).UTC(),
		e.AnonymousID, e.UserID, verified, e.SessionID,
		page.URL, page.Path, page.Title, page.Referrer,
		search.Keyword, results,
		click.Selector, click.Text, click.Href, click.Tag,
		depth, form.FormID, form.Action,
		keys, values,
		ctx.Locale, ctx.TZ, ctx.Screen,
		utm.Source, utm.Medium, utm.Campaign, utm.Term, utm.Content,
		e.IP, e.UserAgent, bot, e.Browser, e.OS, e.Device,
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
