package loader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/privacy"
)

// LogSink is where batches of log records go. An error that a *RowError
// wraps names the one record that can never be written.
type LogSink interface {
	WriteLogs(ctx context.Context, logs []*event.LogRecord) error
}

// decodeLog reads one record of the logs topic; an error means it never
// will be a log row.
func decodeLog(value []byte) (*event.LogRecord, error) {
	var r event.LogRecord
	if err := json.Unmarshal(value, &r); err != nil {
		return nil, fmt.Errorf("not a log record: %w", err)
	}
	switch {
	case r.V < 1 || r.V > event.LogRecordVersion:
		return nil, fmt.Errorf("log record version %d, this loader reads 1 to %d", r.V, event.LogRecordVersion)
	case r.SiteID == "":
		return nil, errors.New("log record without site_id")
	}
	for _, t := range []struct {
		name string
		ms   int64
	}{{"time", r.Time}, {"received_at", r.ReceivedAt}} {
		if at := time.UnixMilli(t.ms); at.Before(time.Unix(0, 0)) || at.After(dateTimeLast) {
			return nil, fmt.Errorf("log record %s %d ms is outside ClickHouse's DateTime range (1970 to 2106)", t.name, t.ms)
		}
	}
	return &r, nil
}

// handleLogs decodes and writes a batch of the logs topic. A record that is
// not a log record, or a row the sink can never write, is handed back by
// index to be dead-lettered, as an event would be.
func (l *Loader) handleLogs(ctx context.Context, recs []kafka.Record) error {
	logs := make([]*event.LogRecord, 0, len(recs))
	from := make([]int, 0, len(recs)) // where logs[i] is in recs
	if l.suppress != nil {
		if err := l.suppress.Current(ctx); err != nil {
			return err
		}
	}
	for i, rec := range recs {
		r, err := decodeLog(rec.Value)
		if err != nil {
			return &kafka.RecordError{Index: i, Err: err}
		}
		if l.forgotten(r) {
			l.m.skipped.WithLabelValues("suppressed").Inc()
			continue
		}
		logs, from = append(logs, r), append(from, i)
	}
	if len(logs) == 0 {
		return nil
	}
	if err := l.logs.WriteLogs(ctx, logs); err != nil {
		var re *RowError
		if errors.As(err, &re) && re.Row >= 0 && re.Row < len(logs) {
			return &kafka.RecordError{Index: from[re.Row], Err: re.Err}
		}
		return fmt.Errorf("write %d log records: %w", len(logs), err)
	}
	l.m.logsLoaded.Add(float64(len(logs)))
	return nil
}

// forgotten says whether r names a forgotten visitor under one of the
// attributes that forget looks at (privacy.LogIDKeys), as it would have
// deleted the record had it been stored.
func (l *Loader) forgotten(r *event.LogRecord) bool {
	if l.suppress == nil {
		return false
	}
	for _, k := range privacy.LogIDKeys {
		if v := r.Attributes[k]; v != "" && l.suppress.Suppressed(r.SiteID, v, v) {
			return true
		}
	}
	return false
}

// split returns the records of recs on topic and the others, with the
// index in recs of each.
func split(recs []kafka.Record, topic string) (on, off []kafka.Record, onAt, offAt []int) {
	for i, r := range recs {
		if r.Topic == topic {
			on, onAt = append(on, r), append(onAt, i)
		} else {
			off, offAt = append(off, r), append(offAt, i)
		}
	}
	return on, off, onAt, offAt
}

// reindex turns a *kafka.RecordError about part[i] into one about
// recs[at[i]].
func reindex(err error, at []int) error {
	var re *kafka.RecordError
	if errors.As(err, &re) && re.Index >= 0 && re.Index < len(at) {
		return &kafka.RecordError{Index: at[re.Index], Err: re.Err}
	}
	return err
}
