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
	"github.com/ClickHouse/clickhouse-go/v2/ext"
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
// and brings their visits up to date. Asking first keeps every id in
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
	// Most batches hold no event already stored: the insert of the whole
	// batch is prepared (columns built and handed to the driver) while
	// ClickHouse looks the ids up, and sent if it found none. The visits'
	// stored rows are read meanwhile.
	whole := make(chan result[*insert], 1)
	go func() {
		cols := newEventColumns(len(events))
		for _, e := range events {
			cols.add(e)
		}
		in, err := c.prepare(ctx, conn, cols)
		whole <- result[*insert]{in, err}
	}()
	touched := c.visits.touched(events)
	old := make(chan result[map[visitKey]visit], 1)
	go func() {
		v, err := touched.stored(ctx, conn)
		old <- result[map[visitKey]visit]{v, err}
	}()
	fresh, err := unseen(ctx, conn, events)
	stored := <-old
	if err := errors.Join(err, stored.err); err != nil {
		(<-whole).v.abort()
		return err
	}
	// The visits' new rows are their stored rows folded with the fresh
	// events, which is what the events table will hold; a visit that may
	// not be in step with the table is read back from it, before the
	// insert adds the fresh events (see visits). The rows are handed to
	// the driver while the events go in, and sent only once they are in:
	// a row must never count an event that the table does not hold, or a
	// retry that finds the event new would count it twice.
	now, err := c.visits.after(ctx, conn, touched, stored.v, events, fresh)
	if err != nil {
		(<-whole).v.abort()
		return err
	}
	rows := changes(stored.v, now).rows()
	prepared := make(chan result[driver.Batch], 1)
	go func() {
		b, err := prepareVisits(ctx, conn, rows)
		prepared <- result[driver.Batch]{b, err}
	}()
	err = c.insertFresh(ctx, conn, events, fresh, <-whole)
	visits := <-prepared
	if err != nil || visits.err != nil {
		if visits.v != nil {
			_ = visits.v.Abort()
		}
		return errors.Join(err, visits.err)
	}
	return sendVisits(visits.v, len(rows))
}

// insertFresh inserts events[i] for each i of fresh; whole is the insert
// of all events, prepared while fresh was not known.
func (c *ClickHouse) insertFresh(ctx context.Context, conn driver.Conn, events []*event.Event, fresh []int, whole result[*insert]) error {
	if whole.err != nil {
		return whole.err
	}
	if len(fresh) == len(events) {
		return whole.v.send()
	}
	whole.v.abort()
	return c.insertEvents(ctx, conn, events, fresh)
}

// result is what a query run in a goroutine brings back.
type result[V any] struct {
	v   V
	err error
}

// insertEvents inserts events[i] for each i of fresh.
func (c *ClickHouse) insertEvents(ctx context.Context, conn driver.Conn, events []*event.Event, fresh []int) error {
	in, err := c.prepare(ctx, conn, columnsOf(events, fresh))
	if err != nil {
		return err
	}
	return in.send()
}

func columnsOf(events []*event.Event, fresh []int) *eventColumns {
	cols := newEventColumns(len(fresh))
	for _, i := range fresh {
		cols.add(events[i])
	}
	return cols
}

// insert is a block of rows for events, handed to the driver and not
// sent yet; nil when there are no rows.
type insert struct {
	b    driver.Batch
	rows int
}

// prepare hands cols to the driver as the block of an insert into
// events. The driver cannot refuse a value of these columns that fits
// let through; should it refuse one all the same, the error is permanent
// and the group splits the batch to find the row.
func (c *ClickHouse) prepare(ctx context.Context, conn driver.Conn, cols *eventColumns) (*insert, error) {
	if cols.len() == 0 {
		return nil, nil
	}
	b, err := conn.PrepareBatch(ctx, c.insert)
	if err != nil {
		return nil, fmt.Errorf("prepare insert into events: %w", err)
	}
	if err := cols.appendTo(b); err != nil {
		_ = b.Abort()
		return nil, kafka.Permanent(fmt.Errorf("append %d rows to the insert into events: %w", cols.len(), err))
	}
	return &insert{b, cols.len()}, nil
}

// send inserts the block.
func (in *insert) send() error {
	if in == nil {
		return nil
	}
	if err := in.b.Send(); err != nil {
		err = fmt.Errorf("insert %d rows into events: %w", in.rows, err)
		if refused(err) {
			return kafka.Permanent(err)
		}
		return err
	}
	return nil
}

// abort gives up an insert not sent, freeing its connection.
func (in *insert) abort() {
	if in != nil {
		_ = in.b.Abort()
	}
}

// unseen returns the indexes of events whose id the events table does not
// hold yet. The query names the site, the types and the time span, so
// ClickHouse reads only the granules that could hold them; the ids go
// along as an external table, one query a site whatever their number
// (as literals in the query text, 2,000 at a time to stay under
// max_query_size, the lookup took three times as long).
func unseen(ctx context.Context, conn driver.Conn, events []*event.Event) ([]int, error) {
	bySite := map[string][]int{}
	for i, e := range events {
		bySite[e.SiteID] = append(bySite[e.SiteID], i)
	}
	seen := map[string]bool{}
	for site, idx := range bySite {
		ids, err := loaded(ctx, conn, site, events, idx)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			seen[id] = true
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

// loaded returns the ids of events[i], i in idx, all of site, that the
// events table holds.
func loaded(ctx context.Context, conn driver.Conn, site string, events []*event.Event, idx []int) ([]string, error) {
	ids, types := make([]string, 0, len(idx)), map[string]bool{}
	from, to := eventTime(events[idx[0]]), eventTime(events[idx[0]])
	for _, i := range idx {
		e := events[i]
		ids, types[string(e.Type)] = append(ids, e.ID), true
		t := eventTime(e)
		from, to = minTime(from, t), maxTime(to, t)
	}
	ctx, err := withStrings(ctx, "batch_ids", ids)
	if err != nil {
		return nil, fmt.Errorf("look up loaded ids: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT id FROM events
		WHERE site_id = ? AND has(?, type) AND time >= ? AND time <= ? AND id IN batch_ids`,
		site, keys(types), from.Truncate(time.Second), to)
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

// withStrings sends values along with the query of ctx as the external
// table name, of one String column, also named name.
func withStrings(ctx context.Context, name string, values []string) (context.Context, error) {
	t, err := ext.NewTable(name, ext.Column(name, "String"))
	if err != nil {
		return nil, err
	}
	if _, err := t.Block().Columns[0].Append(values); err != nil {
		return nil, err
	}
	return ch.Context(ctx, ch.WithExternalTable(t)), nil
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
