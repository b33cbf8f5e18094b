package loader

import (
	"github.com/footfall/footfall/internal/event"

	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/footfall/footfall/internal/kafka"
)

var _ LogSink = (*ClickHouse)(nil)

// logColumns of the logs table, in the order WriteLogs appends them.
// ClickHouse 18 needs an INSERT to name its columns.
var logColumns = []string{
	"time", "site_id", "service", "severity", "severity_number", "body",
	"attributes.key", "attributes.value", "trace_id", "span_id", "received_at",
}

var insertLogs = "INSERT INTO logs (" + strings.Join(logColumns, ", ") + ")"

// WriteLogs inserts logs into the logs table as one block. Unlike events,
// log records carry no id: a batch delivered twice (a crash between the
// insert and the offset commit) is stored twice.
func (c *ClickHouse) WriteLogs(ctx context.Context, logs []*event.LogRecord) error {
	conn, err := c.client.Conn(ctx)
	if err != nil {
		return err
	}
	b, err := conn.PrepareBatch(ctx, insertLogs)
	if err != nil {
		return fmt.Errorf("prepare insert into logs: %w", err)
	}
	for i, r := range logs {
		keys := make([]string, 0, len(r.Attributes))
		for k := range r.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		values := make([]string, len(keys))
		for j, k := range keys {
			values[j] = r.Attributes[k]
		}
		if err := b.Append(time.UnixMilli(r.Time), r.SiteID, r.Service, r.SeverityText, r.SeverityNumber, r.Body,
			keys, values, r.TraceID, r.SpanID, time.UnixMilli(r.ReceivedAt)); err != nil {
			_ = b.Abort()
			return &RowError{Row: i, Err: fmt.Errorf("append to the insert into logs: %w", err)}
		}
	}
	if err := b.Send(); err != nil {
		err = fmt.Errorf("insert %d rows into logs: %w", len(logs), err)
		if refused(err) {
			return kafka.Permanent(err)
		}
		return err
	}
	return nil
}
