package dashboard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Retention is Footfall's addition to the Stats API: visitors grouped by
// the week (Monday to Sunday, UTC) of their first visit in the period,
// and the share of each cohort that visited again 1, 2, … weeks later.

// retentionStmt counts, per cohort week and week of visit, the visitors of
// the cohort who visited that week. Visits are the live rows of sessions.
func retentionStmt(s scope) *stmt {
	st := &stmt{}
	st.add("SELECT cohort, week, toInt64(count()) AS visitors FROM (" +
		"SELECT visitor, min(week) AS cohort, groupUniqArray(week) AS weeks FROM (" +
		"SELECT visitor, toMonday(start, 'UTC') AS week FROM sessions WHERE ")
	visitWhere(st, s)
	st.add(" GROUP BY session_id, visitor, start HAVING sum(sign) > 0) GROUP BY visitor)" +
		" ARRAY JOIN weeks AS week GROUP BY cohort, week")
	return st
}

// returning is one later week of a cohort.
type returning struct {
	Week       int     `json:"week"`
	Visitors   int64   `json:"visitors"`
	Percentage float64 `json:"percentage"`
}

// cohort is one row of /api/v1/stats/retention.
type cohort struct {
	Cohort    string      `json:"cohort"` // the Monday of the week
	Visitors  int64       `json:"visitors"`
	Returning []returning `json:"returning"`
}

func runRetention(ctx context.Context, conn driver.Conn, s scope, p period) ([]cohort, error) {
	st := retentionStmt(s)
	rows, err := conn.Query(ctx, st.String(), st.args...)
	if err != nil {
		return nil, fmt.Errorf("retention query: %w", err)
	}
	type cell struct{ cohort, week time.Time }
	counts := map[cell]int64{}
	for rows.Next() {
		var c cell
		var n int64
		if err := rows.Scan(&c.cohort, &c.week, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read retention: %w", err)
		}
		counts[cell{dayOf(c.cohort), dayOf(c.week)}] = n
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read retention: %w", err)
	}
	// Every cohort week of the period is listed, those nobody started in
	// too, each with every later week up to the period's last.
	out := []cohort{}
	lastWeek := mondayOf(p.last)
	for w := mondayOf(p.first); !w.After(lastWeek); w = w.AddDate(0, 0, 7) {
		c := cohort{Cohort: w.Format(time.DateOnly), Visitors: counts[cell{w, w}], Returning: []returning{}}
		for k, later := 1, w.AddDate(0, 0, 7); !later.After(lastWeek); k, later = k+1, later.AddDate(0, 0, 7) {
			n := counts[cell{w, later}]
			c.Returning = append(c.Returning, returning{Week: k, Visitors: n, Percentage: percent(n, c.Visitors)})
		}
		out = append(out, c)
	}
	return out, nil
}

// mondayOf is the Monday that starts d's week.
func mondayOf(d time.Time) time.Time {
	return dayOf(d).AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}
