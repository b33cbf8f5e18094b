package loader

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/event"
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
	conn   driver.Conn
	insert string
}

var _ Sink = (*ClickHouse)(nil)

// NewClickHouse returns a sink over conn, whose database holds events.
func NewClickHouse(conn driver.Conn) *ClickHouse {
	return &ClickHouse{conn: conn, insert: "INSERT INTO events (" + strings.Join(columns, ", ") + ")"}
}

// Write inserts events as one block.
func (c *ClickHouse) Write(ctx context.Context, events []*event.Event) error {
	b, err := c.conn.PrepareBatch(ctx, c.insert)
	if err != nil {
		return fmt.Errorf("prepare insert into events: %w", err)
	}
	for _, e := range events {
		if err := b.Append(row(e)...); err != nil {
			_ = b.Abort()
			return fmt.Errorf("append event %s: %w", e.ID, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d rows into events: %w", len(events), err)
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
