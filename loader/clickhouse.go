package loader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

// columns of the events table, in the order row fills them. ClickHouse 18
// needs an INSERT to name its columns.
var columns = []string{
	"id", "type", "name", "site_id", "time", "ts", "original_ts", "received_at",
	"anonymous_id", "user_id", "user_verified", "session_id",
	"page_url", "page_path", "page_title", "page_referrer",
	"search_keyword", "search_results",
	"click_selector", "click_text", "click_href", "click_tag",
	"scroll_depth", "form_id", "form_action",
	"props.key", "props.value",
	"locale", "tz", "screen",
	"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
	"ip", "user_agent", "bot", "browser", "os", "device",
}

// ClickHouse writes batches into the events table and keeps the visits
// (the sessions table) they belong to.
type ClickHouse struct {
	client *clickhouse.Client
	insert string
	visits *visits
}

var _ Sink = (*ClickHouse)(nil)

// NewClickHouse returns a sink over client, whose database holds events.
func NewClickHouse(client *clickhouse.Client) *ClickHouse {
	return &ClickHouse{
		client: client,
		insert: "INSERT INTO events (" + strings.Join(columns, ", ") + ")",
		visits: &visits{lookback: visitLookback},
	}
}

// Write inserts the events that the table does not hold yet, as one block,
// then brings their visits up to date. Asking first keeps every id in
// events once, whatever resends, redeliveries and replays bring, so the
// materialized views over it count each event once.
//
// A row the driver cannot encode for its column is a *RowError; ClickHouse
// refusing the values of the block is permanent too (the group splits the
// batch to find the row); anything else, such as ClickHouse being down, is
// worth retrying, and a retry writes nothing twice.
func (c *ClickHouse) Write(ctx context.Context, events []*event.Event) error {
	for i, e := range events {
		if err := fits(e); err != nil {
			return &RowError{Row: i, Err: fmt.Errorf("event %s: %w", e.ID, err)}
		}
	}
	conn, err := c.client.Conn(ctx)
	if err != nil {
		return err
	}
	fresh, err := unseen(ctx, conn, events)
	if err != nil {
		return err
	}
	if err := c.insertEvents(ctx, conn, events, fresh); err != nil {
		return err
	}
	return c.visits.update(ctx, conn, events)
}

func (c *ClickHouse) insertEvents(ctx context.Context, conn driver.Conn, events []*event.Event, fresh []int) error {
	if len(fresh) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, c.insert)
	if err != nil {
		return fmt.Errorf("prepare insert into events: %w", err)
	}
	for _, i := range fresh {
		if err := b.Append(row(events[i])...); err != nil {
			_ = b.Abort()
			return &RowError{Row: i, Err: fmt.Errorf("event %s: %w", events[i].ID, err)}
		}
	}
	if err := b.Send(); err != nil {
		err = fmt.Errorf("insert %d rows into events: %w", len(fresh), err)
		if refused(err) {
			return kafka.Permanent(err)
		}
		return err
	}
	return nil
}

// idChunk bounds the ids of one query: ClickHouse's default max_query_size
// is 256 KiB, and a quoted id takes 39 bytes.
const idChunk = 2000

// unseen returns the indexes of events whose id the events table does not
// hold yet. The query names the site, the types and the time span, so
// ClickHouse reads only the granules that could hold them.
func unseen(ctx context.Context, conn driver.Conn, events []*event.Event) ([]int, error) {
	bySite := map[string][]int{}
	for i, e := range events {
		bySite[e.SiteID] = append(bySite[e.SiteID], i)
	}
	seen := map[string]bool{}
	for site, idx := range bySite {
		for len(idx) > 0 {
			n := min(len(idx), idChunk)
			chunk := idx[:n]
			idx = idx[n:]
			ids, types := make([]string, 0, n), map[string]bool{}
			from, to := eventTime(events[chunk[0]]), eventTime(events[chunk[0]])
			for _, i := range chunk {
				e := events[i]
				ids, types[string(e.Type)] = append(ids, e.ID), true
				t := eventTime(e)
				from, to = minTime(from, t), maxTime(to, t)
			}
			rows, err := conn.Query(ctx, `SELECT id FROM events
				WHERE site_id = ? AND has(?, type) AND time >= ? AND time <= ? AND id IN (SELECT arrayJoin(?))`,
				site, keys(types), from.Truncate(time.Second), to, ids)
			if err != nil {
				return nil, fmt.Errorf("look up loaded ids: %w", err)
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return nil, fmt.Errorf("look up loaded ids: %w", err)
				}
				seen[id] = true
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				return nil, fmt.Errorf("look up loaded ids: %w", err)
			}
		}
	}
	fresh := make([]int, 0, len(events))
	for i, e := range events {
		if !seen[e.ID] {
			fresh = append(fresh, i)
		}
	}
	return fresh, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// refusedCodes are ClickHouse's errors about the values of an insert that
// no schema change explains: text it cannot parse, a string too long.
// Anything else, TYPE_MISMATCH included (a view whose columns disagree
// with the table fails every row alike), is retried: dead-lettering on it
// would empty the stream into the dead-letter topic.
var refusedCodes = map[int32]bool{
	6: true, 27: true, 38: true, 41: true, 72: true, 131: true,
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

// eventTime is the event's ts (the collector's reckoning, see
// event.Event) unless it is clearly wrong, in which case the server's:
// partitions stay sane and ts is still kept in the ts column, the
// client's own in original_ts.
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

// propString renders a prop value the way JSON would, so "1" and 1 differ
// only in the raw event, and booleans read as true/false. A number decoded
// from Kafka is the exact text the client sent (event.Props), kept as it
// is: 9223372036854775807 is not rounded, 1e308 is not 309 digits long.
func propString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}
