package dashboard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gin-gonic/gin"
)

// The logs report is Footfall's addition to the Stats API, for the page's
// logs panel: how many log records each service wrote in the period at
// each severity level, and the most recent errors. It reads the logs
// table (docs/logs.md), whose order key (site, service, time) keeps both
// queries to the site's granules of the period.

// recentErrors is how many of the latest ERROR and FATAL records the
// report lists.
const recentErrors = 20

// severityLevel names OpenTelemetry's severity number ranges, as the
// collector names a record that came without text (docs/logs.md).
const severityLevel = `multiIf(severity_number = 0, 'UNSPECIFIED', severity_number <= 4, 'TRACE',
	severity_number <= 8, 'DEBUG', severity_number <= 12, 'INFO', severity_number <= 16, 'WARN',
	severity_number <= 20, 'ERROR', 'FATAL')`

// errorNumber is the lowest severity number of an error (ERROR 17-20,
// FATAL 21-24).
const errorNumber = 17

// logCount is one row of the report's counts.
type logCount struct {
	Service  string `json:"service"`
	Severity string `json:"severity"`
	Count    int64  `json:"count"`
}

// logLine is one of the recent errors.
type logLine struct {
	Time     string `json:"time"` // RFC 3339, UTC
	Service  string `json:"service"`
	Severity string `json:"severity"`
	Body     string `json:"body"`
	TraceID  string `json:"trace_id"`
}

func (d *Dashboard) logs(ctx context.Context, q url.Values, site string) (any, error) {
	p, err := parsePeriod(q.Get("period"), q.Get("date"), d.today())
	if err != nil {
		return nil, err
	}
	if q.Get("filters") != "" {
		return nil, badRequest("The logs report takes no filters: log records have no pages, sources or visitors.")
	}
	conn, err := d.conn(ctx)
	if err != nil {
		return nil, err
	}
	var counts []logCount
	var recent []logLine
	err = parallel(
		func() (err error) { counts, err = logCounts(ctx, conn, site, p); return err },
		func() (err error) { recent, err = latestErrors(ctx, conn, site, p); return err },
	)
	if err != nil {
		return nil, err
	}
	return gin.H{"results": gin.H{"counts": counts, "recent_errors": recent}}, nil
}

// levels orders severity levels, least severe first.
var severityLevels = []string{"UNSPECIFIED", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// logCounts counts the site's records of the period by service and
// severity level: services with the most errors first, then by name, and
// each service's levels from the least severe.
func logCounts(ctx context.Context, conn driver.Conn, site string, p period) ([]logCount, error) {
	rows, err := conn.Query(ctx, `SELECT service, `+severityLevel+` AS level, toInt64(count()) FROM logs
		WHERE site_id = ? AND time >= ? AND time < ? GROUP BY service, level`, site, p.from(), p.to())
	if err != nil {
		return nil, fmt.Errorf("log counts: %w", err)
	}
	out := []logCount{}
	errs := map[string]int64{}
	for rows.Next() {
		var c logCount
		if err := rows.Scan(&c.Service, &c.Severity, &c.Count); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read log counts: %w", err)
		}
		if c.Severity == "ERROR" || c.Severity == "FATAL" {
			errs[c.Service] += c.Count
		}
		out = append(out, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read log counts: %w", err)
	}
	slices.SortFunc(out, func(a, b logCount) int {
		return cmp.Or(cmp.Compare(errs[b.Service], errs[a.Service]), cmp.Compare(a.Service, b.Service),
			cmp.Compare(slices.Index(severityLevels, a.Severity), slices.Index(severityLevels, b.Severity)))
	})
	return out, nil
}

// latestErrors lists the site's latest ERROR and FATAL records of the
// period, newest first.
func latestErrors(ctx context.Context, conn driver.Conn, site string, p period) ([]logLine, error) {
	rows, err := conn.Query(ctx, `SELECT time, service, `+severityLevel+`, body, trace_id FROM logs
		WHERE site_id = ? AND time >= ? AND time < ? AND severity_number >= ?
		ORDER BY time DESC LIMIT ?`, site, p.from(), p.to(), errorNumber, recentErrors)
	if err != nil {
		return nil, fmt.Errorf("recent errors: %w", err)
	}
	out := []logLine{}
	for rows.Next() {
		var l logLine
		var at time.Time
		if err := rows.Scan(&at, &l.Service, &l.Severity, &l.Body, &l.TraceID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read recent errors: %w", err)
		}
		l.Time = at.UTC().Format(time.RFC3339)
		out = append(out, l)
	}
	return out, errors.Join(rows.Err(), rows.Close())
}
