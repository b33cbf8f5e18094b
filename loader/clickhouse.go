package loader

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

// columns of the events table, in the order row fills them. ClickHouse 18
// needs an INSERT to name its columns.
var columns = []string{
	"id", "type", "name", "site_id", "time", "ts", "received_at",
	"anonymous_id", "user_id", "session_id",
	"page_url", "page_path", "page_title", "page_referrer",
	"search_keyword", "search_results",
	"click_selector", "click_text", "click_href", "click_tag",
	"scroll_depth", "form_id", "form_action",
	"props.key", "props.value",
	"locale", "tz", "screen",
	"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
	"ip", "user_agent", "bot", "browser", "os", "device",
}

// ClickHouse writes batches into the events table.
type ClickHouse struct {
	client *clickhouse.Client
	insert string
}

var _ Sink = (*ClickHouse)(nil)

// NewClickHouse returns a sink over client, whose database holds events.
func NewClickHouse(client *clickhouse.Client) *ClickHouse {
	return &ClickHouse{client: client, insert: "INSERT INTO events (" + strings.Join(columns, ", ") + ")"}
}

// Write inserts events as one block. A row the driver cannot encode for
// its column is a *RowError; ClickHouse refusing the values of the block
// is permanent too (the group splits the batch to find the row); anything
// else, such as ClickHouse being down, is worth retrying.
func (c *ClickHouse) Write(ctx context.Context, events []*event.Event) error {
	conn, err := c.client.Conn(ctx)
	if err != nil {
		return err
	}
	b, err := conn.PrepareBatch(ctx, c.insert)
	if err != nil {
		return fmt.Errorf("prepare insert into events: %w", err)
	}
	for i, e := range events {
		if err := fits(e); err != nil {
			_ = b.Abort()
			return &RowError{Row: i, Err: fmt.Errorf("event %s: %w", e.ID, err)}
		}
		if err := b.Append(row(e)...); err != nil {
			_ = b.Abort()
			return &RowError{Row: i, Err: fmt.Errorf("event %s: %w", e.ID, err)}
		}
	}
	if err := b.Send(); err != nil {
		err = fmt.Errorf("insert %d rows into events: %w", len(events), err)
		if refused(err) {
			return kafka.Permanent(err)
		}
		return err
	}
	return nil
}

// refusedCodes are ClickHouse's errors about the values of an insert, as
// opposed to the server's state (too many parts, memory, a missing table):
// retrying the same values cannot cure them.
var refusedCodes = map[int32]bool{
	6: true, 27: true, 38: true, 41: true, 53: true, 69: true, 70: true, 72: true, 131: true,
}

func refused(err error) bool {
	var ex *ch.Exception
	return errors.As(err, &ex) && refusedCodes[ex.Code]
}

// dateTimeLast is the last second a ClickHouse DateTime holds. The driver
// wraps a time outside 1970..2106 instead of refusing it, so the loader
// checks: such a row would be stored with a wrong time.
var dateTimeLast = time.Unix(math.MaxUint32, 0)

// fits reports a value of e that the events table cannot hold.
func fits(e *event.Event) error {
	for _, c := range []struct {
		name string
		t    time.Time
	}{{"time", eventTime(e)}, {"received_at", time.UnixMilli(e.ReceivedAt)}} {
		if c.t.Before(time.Unix(0, 0)) || c.t.After(dateTimeLast) {
			return fmt.Errorf("%s %s is outside ClickHouse's DateTime range (1970 to 2106)", c.name, c.t.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// eventTime is the client's time unless the client's clock is clearly
// wrong, in which case the server's: partitions stay sane and the client's
// raw ts is still kept in the ts column.
func eventTime(e *event.Event) time.Time {
	recv := time.UnixMilli(e.ReceivedAt)
	t := time.UnixMilli(e.TS)
	if e.ReceivedAt == 0 || (t.After(recv.Add(-31*24*time.Hour)) && t.Before(recv.Add(time.Hour))) {
		return t.UTC()
	}
	return recv.UTC()
}

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
	var bot uint8
	if e.Bot {
		bot = 1
	}
	return []any{
		e.ID, string(e.Type), e.Name, e.SiteID, eventTime(e), uint64(max(e.TS, 0)), time.UnixMilli(e.ReceivedAt).UTC(),
		e.AnonymousID, e.UserID, e.SessionID,
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

// propString renders a prop value the way JSON would, so "1" and 1 differ
// only in the raw event, and booleans read as true/false.
func propString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}
