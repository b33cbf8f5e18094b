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
// A time the table cannot hold is a *RowError; the driver or ClickHouse
// refusing the values of the block is permanent (the group splits the
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
	// Most batches hold no event already stored: their columns are built
	// while ClickHouse looks the ids up. The visits' stored rows are read
	// meanwhile too: the events insert does not change them.
	built := make(chan *eventColumns, 1)
	go func() {
		cols := newEventColumns(len(events))
		for _, e := range events {
			cols.add(e)
		}
		built <- cols
	}()
	visits := c.visits.touched(events)
	type storedVisits struct {
		visits map[visitKey]visit
		err    error
	}
	old := make(chan storedVisits, 1)
	go func() {
		v, err := visits.stored(ctx, conn)
		old <- storedVisits{v, err}
	}()
	err = c.insertFresh(ctx, conn, events, built)
	stored := <-old
	if err != nil {
		return err
	}
	if stored.err != nil {
		return stored.err
	}
	return visits.write(ctx, conn, stored.visits)
}

// insertFresh inserts the events the table does not hold yet; built
// brings the columns of all of them.
func (c *ClickHouse) insertFresh(ctx context.Context, conn driver.Conn, events []*event.Event, built <-chan *eventColumns) error {
	fresh, err := unseen(ctx, conn, events)
	cols := <-built
	if err != nil {
		return err
	}
	if len(fresh) < len(events) {
		cols = columnsOf(events, fresh)
	}
	return c.insertColumns(ctx, conn, cols)
}

// insertEvents inserts events[i] for each i of fresh.
func (c *ClickHouse) insertEvents(ctx context.Context, conn driver.Conn, events []*event.Event, fresh []int) error {
	return c.insertColumns(ctx, conn, columnsOf(events, fresh))
}

func columnsOf(events []*event.Event, fresh []int) *eventColumns {
	cols := newEventColumns(len(fresh))
	for _, i := range fresh {
		cols.add(events[i])
	}
	return cols
}

// insertColumns sends cols as one block. The driver cannot refuse a
// value of these columns that fits let through; should it refuse one all
// the same, the error is permanent and the group splits the batch to find
// the row.
func (c *ClickHouse) insertColumns(ctx context.Context, conn driver.Conn, cols *eventColumns) error {
	if cols.len() == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, c.insert)
	if err != nil {
		return fmt.Errorf("prepare insert into events: %w", err)
	}
	if err := cols.appendTo(b); err != nil {
		_ = b.Abort()
		return kafka.Permanent(fmt.Errorf("append %d rows to the insert into events: %w", cols.len(), err))
	}
	if err := b.Send(); err != nil {
		err = fmt.Errorf("insert %d rows into events: %w", cols.len(), err)
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
// ClickHouse reads only the granules that could hold them. Chunks go one
// after the other: one query already keeps the server's cores busy (two
// at once took longer here).
func unseen(ctx context.Context, conn driver.Conn, events []*event.Event) ([]int, error) {
	bySite := map[string][]int{}
	for i, e := range events {
		bySite[e.SiteID] = append(bySite[e.SiteID], i)
	}
	seen := map[string]bool{}
	for site, idx := range bySite {
		for len(idx) > 0 {
			n := min(len(idx), idChunk)
			ids, err := loaded(ctx, conn, site, events, idx[:n])
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				seen[id] = true
			}
			idx = idx[n:]
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

// loaded returns the ids of events[i], i in chunk, all of site, that the
// events table holds.
func loaded(ctx context.Context, conn driver.Conn, site string, events []*event.Event, chunk []int) ([]string, error) {
	ids, types := make([]string, 0, len(chunk)), map[string]bool{}
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
	var found []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("look up loaded ids: %w", err)
		}
		found = append(found, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("look up loaded ids: %w", err)
	}
	return found, nil
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
