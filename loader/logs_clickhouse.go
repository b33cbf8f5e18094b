package loader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

var _ LogSink = (*ClickHouse)(nil)

// logColumns of the logs table, in the order WriteLogs appends them.
// ClickHouse 18 needs an INSERT to name its columns.
var logColumns = []string{
	"time", "id", "site_id", "service", "severity", "severity_number", "body",
	"attributes.key", "attributes.value", "trace_id", "span_id", "received_at",
}

var insertLogs = "INSERT INTO logs (" + strings.Join(logColumns, ", ") + ")"

// WriteLogs inserts into the logs table, as one block, the records of logs
// it does not hold yet: a batch delivered again (a crash between the
// insert and the offset commit, a resend with the sender's ids) is stored
// once. Records without an id (written before ids) are always inserted.
func (c *ClickHouse) WriteLogs(ctx context.Context, logs []*event.LogRecord) error {
	conn, err := c.client.Conn(ctx)
	if err != nil {
		return err
	}
	fresh, err := unseenLogs(ctx, conn, logs)
	if err != nil {
		return err
	}
	if len(fresh) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, insertLogs)
	if err != nil {
		return fmt.Errorf("prepare insert into logs: %w", err)
	}
	for _, i := range fresh {
		r := logs[i]
		keys := make([]string, 0, len(r.Attributes))
		for k := range r.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		values := make([]string, len(keys))
		for j, k := range keys {
			values[j] = r.Attributes[k]
		}
		if err := b.Append(time.UnixMilli(r.Time), r.ID, r.SiteID, r.Service, r.SeverityText, r.SeverityNumber, r.Body,
			keys, values, r.TraceID, r.SpanID, time.UnixMilli(r.ReceivedAt)); err != nil {
			_ = b.Abort()
			return &RowError{Row: i, Err: fmt.Errorf("append to the insert into logs: %w", err)}
		}
	}
	if err := b.Send(); err != nil {
		err = fmt.Errorf("insert %d rows into logs: %w", len(fresh), err)
		if refused(err) {
			return kafka.Permanent(err)
		}
		return err
	}
	return nil
}

// unseenLogs returns the indexes of logs the table does not hold: those
// without an id, and those whose id no row of their site, service and
// time span has. One query a site, the ids sent as an external table, as
// unseen does for events; a batch that repeats an id keeps its first.
func unseenLogs(ctx context.Context, conn driver.Conn, logs []*event.LogRecord) ([]int, error) {
	type span struct {
		ids, services []string
		from, to      int64
	}
	spans := map[string]*span{}
	for _, r := range logs {
		if r.ID == "" {
			continue
		}
		s := spans[r.SiteID]
		if s == nil {
			s = &span{from: r.Time, to: r.Time}
			spans[r.SiteID] = s
		}
		s.ids, s.services = append(s.ids, r.ID), append(s.services, r.Service)
		s.from, s.to = min(s.from, r.Time), max(s.to, r.Time)
	}
	seen := map[string]bool{}
	for site, s := range spans {
		slices.Sort(s.services)
		qctx, err := withStrings(ctx, "batch_ids", s.ids)
		if err != nil {
			return nil, fmt.Errorf("look up loaded log ids: %w", err)
		}
		rows, err := conn.Query(qctx, `SELECT id FROM logs
			WHERE site_id = ? AND has(?, service) AND time >= ? AND time <= ? AND id IN batch_ids`,
			site, slices.Compact(s.services), time.UnixMilli(s.from).Truncate(time.Second), time.UnixMilli(s.to))
		if err != nil {
			return nil, fmt.Errorf("look up loaded log ids: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up loaded log ids: %w", err)
			}
			seen[site+"\x00"+id] = true
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("look up loaded log ids: %w", err)
		}
	}
	fresh := make([]int, 0, len(logs))
	for i, r := range logs {
		if r.ID == "" {
			fresh = append(fresh, i)
			continue
		}
		if k := r.SiteID + "\x00" + r.ID; !seen[k] {
			seen[k] = true
			fresh = append(fresh, i)
		}
	}
	return fresh, nil
}
