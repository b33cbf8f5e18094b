package loader

import (
	"context"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/event"
)

// Ceiling is the least the loader's writes can cost: rows built from
// memory beforehand (Rows) and inserted into the events table straight
// through clickhouse-go, one batch.Append a row, the driver's ordinary
// way: the same table (and so the same materialized views), columns, batch
// size and LZ4 compression as the loader, and no decoding, dedup or
// visits. The loader is measured against it (BenchmarkLoaderSinkBaseline,
// cmd/benchload).
type Ceiling struct {
	conn   driver.Conn
	insert string
}

// NewCeiling inserts through conn, whose database holds the events table.
func NewCeiling(conn driver.Conn) *Ceiling {
	return &Ceiling{conn: conn, insert: "INSERT INTO events (" + strings.Join(columns, ", ") + ")"}
}

// Rows are events as the values of rows, in the order of the columns.
func Rows(events []*event.Event) [][]any {
	rows := make([][]any, len(events))
	for i, e := range events {
		rows[i] = row(e)
	}
	return rows
}

// Insert sends rows as one insert.
func (c *Ceiling) Insert(ctx context.Context, rows [][]any) error {
	batch, err := c.conn.PrepareBatch(ctx, c.insert)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := batch.Append(r...); err != nil {
			_ = batch.Abort()
			return err
		}
	}
	return batch.Send()
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
