package dashboard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// scope is what every query of a report shares: the site, the times and
// the filters.
type scope struct {
	site     string
	from, to time.Time
	filters  []filter
	// levels caches the sampling level of visitor figures; nil: none.
	levels *levelCache
}

// fromRollups says whether the rollups can answer: only without filters,
// since they keep no event's or visit's other properties.
func (s scope) fromRollups() bool { return len(s.filters) == 0 }

// grouping is how a query groups its figures: by time bucket, by a
// property's value, or not at all (a total).
type grouping struct {
	iv   interval  // group by time bucket when set
	prop *property // group by this property's value when set
	// only keeps these stored values of prop (the pages a page breakdown
	// lists, when their visits are looked up by entry page).
	only []string
	// order is the SQL, over the n_* columns, the groups are ranked by
	// (descending, then by value); "" keeps every group unordered.
	order         string
	limit, offset int
}

// stmt is SQL with its arguments, bound by the driver (never by
// concatenating user values).
type stmt struct {
	b    strings.Builder
	args []any
}

func (s *stmt) add(sql string, args ...any) *stmt {
	s.b.WriteString(sql)
	s.args = append(s.args, args...)
	return s
}

func (s *stmt) String() string { return s.b.String() }

// groupBy ends a statement whose grouped columns are named bucket and
// value: GROUP BY, then ORDER BY and LIMIT for a ranked breakdown.
func (s *stmt) groupBy(g grouping) { s.groupByHaving(g, "") }

// groupByHaving is groupBy keeping only the groups that meet having.
func (s *stmt) groupByHaving(g grouping, having string) {
	var keys []string
	if g.iv != "" {
		keys = append(keys, "bucket")
	}
	if g.prop != nil {
		keys = append(keys, "value")
	}
	if len(keys) > 0 {
		s.add(" GROUP BY " + strings.Join(keys, ", "))
	}
	if having != "" {
		s.add(" HAVING " + having)
	}
	if g.order != "" {
		s.add(fmt.Sprintf(" ORDER BY %s DESC, value ASC LIMIT %d, %d", g.order, g.offset, g.limit))
	}
}

// row is one row of a query's answer.
type row struct {
	bucket time.Time
	value  string
	tally
}

// query runs st and reads its rows, whose columns are bucket, value and
// n_* tallies.
func query(ctx context.Context, conn driver.Conn, st *stmt) ([]row, error) {
	rows, err := conn.Query(ctx, st.String(), st.args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	names := rows.Columns()
	var out []row
	for rows.Next() {
		var r row
		fields := r.columns()
		dest := make([]any, len(names))
		for i, n := range names {
			switch n {
			case "bucket":
				dest[i] = &r.bucket
			case "value":
				dest[i] = &r.value
			default:
				f, ok := fields[n]
				if !ok {
					rows.Close()
					return nil, fmt.Errorf("query: unexpected column %s", n)
				}
				dest[i] = f
			}
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read row: %w", err)
		}
		r.bucket = r.bucket.UTC()
		out = append(out, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	return out, nil
}

// wants lists the n_* columns that metrics need, on the event side and on
// the visit side. byVisit: the rows are visits (a breakdown by a visit
// property), so visitors and pageviews are counted over visits.
func wants(metrics []metric, byVisit bool) (event, visit []string) {
	add := func(list *[]string, cols ...string) {
		for _, c := range cols {
			if !slices.Contains(*list, c) {
				*list = append(*list, c)
			}
		}
	}
	for _, m := range metrics {
		switch {
		case m == visitors && byVisit:
			add(&visit, "n_visit_visitors")
		case m == pageviews && byVisit:
			add(&visit, "n_visit_pageviews")
		case m == visitors:
			add(&event, "n_visitors")
		case m == pageviews:
			add(&event, "n_pageviews")
		case m == events:
			add(&event, "n_events")
		case m == zeroResults:
			add(&event, "n_zero_results")
		case m == visits:
			add(&visit, "n_visits")
		case m == bounceRate:
			add(&visit, "n_visits", "n_bounces")
		case m == visitDuration:
			add(&visit, "n_visits", "n_duration")
		case m == viewsPerVisit:
			add(&visit, "n_visits", "n_visit_pageviews")
		}
	}
	return event, visit
}

// orderSQL ranks rows by m, over the n_* columns.
func orderSQL(m metric, byVisit bool) string {
	switch {
	case m == visitors && byVisit:
		return "n_visit_visitors"
	case m == pageviews && byVisit:
		return "n_visit_pageviews"
	case m == bounceRate:
		return "if(n_visits > 0, n_bounces / n_visits, 0)"
	case m == visitDuration:
		return "if(n_visits > 0, n_duration / n_visits, 0)"
	}
	return "n_" + string(m)
}

// selectList joins the SQL of cols, each named after itself.
func selectList(sqlOf map[string]string, cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = sqlOf[c] + " AS " + c
	}
	return strings.Join(parts, ", ")
}
