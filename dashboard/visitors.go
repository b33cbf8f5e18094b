package dashboard

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Unique visitors over the rollups. Merging uniq states costs by the
// visitors they hold, about 50 ns each on two cores: a month of a busy
// shop holds a million visitor-hours, 60 to 200 ms a figure. So every
// rollup row carries lvl, the trailing zero bits of sipHash64(visitor) up
// to maxLevel (migrations/clickhouse/0002_reporting.sql), and the rows of
// lvl >= k hold 1/2^k of the visitors, whichever they are. A figure is
// counted in two statements: its rows of the top level estimate it; then
// a small one merges every level and is exact up to 16,384, and a large
// one merges only the levels that still hold sampleFloor of its visitors
// and is scaled up: a standard error of at most 1/sqrt(8192), 1.1 %, and
// less the larger the sample. (Plausible's uniq is exact up to 65,536;
// counting as uniq does cost the default page 100 ms more on a month of a
// busy shop, docs/benchmarks.md.)

const (
	maxLevel    = 7
	sampleFloor = 8192
	// exactBelow: an estimate under this merges every level. Its margin
	// over 16,384 is more than two standard errors of the estimate there
	// (a 1/128 sample: 128 visitors, ±8.8 %), so a figure up to 16,384 is
	// sampled only when the estimate is far off, and then from a sample of
	// at least 8,192.
	exactBelow = 20480
)

// levelFor is the level a figure estimated at n visitors is counted from:
// 0 (every row) below exactBelow, else the highest whose rows hold at
// least sampleFloor of them.
func levelFor(n int64) int {
	if n < exactBelow {
		return 0
	}
	k := 0
	for k < maxLevel && n>>(k+1) >= sampleFloor {
		k++
	}
	return k
}

// visitorCount is a set of unique-visitor figures over one rollup: the
// scope's total, one a time bucket (iv), or one a value of prop (values).
type visitorCount struct {
	s scope
	// visits counts a visit property's visitors in sessions_hourly
	// rather than the events' in events_hourly.
	visits bool
	iv     interval
	prop   *property
	values []string
}

// table, merge and column are the rollup, its merge function and the
// tally column the figures go to.
func (c visitorCount) table() string {
	if c.visits {
		return "sessions_hourly"
	}
	return "events_hourly"
}

func (c visitorCount) column() string {
	if c.visits {
		return "n_visit_visitors"
	}
	return "n_visitors"
}

func (c visitorCount) merge() string {
	if c.visits {
		return "uniqIfMerge(visitors)"
	}
	return "uniqMerge(visitors)"
}

func (c visitorCount) dim() string {
	if c.prop != nil {
		return c.prop.dim
	}
	return ""
}

// start begins a statement: the group key, the figure, the site's rows of
// the dimension and hours.
func (c visitorCount) start() *stmt {
	st := &stmt{}
	st.add("SELECT ")
	switch {
	case c.iv != "":
		st.add(c.iv.bucketSQL("hour") + " AS bucket, ")
	case c.prop != nil:
		st.add("value, ")
	}
	st.add(fmt.Sprintf("toInt64(%s) AS %s FROM %s WHERE site_id = ? AND dimension = '%s' AND hour >= ? AND hour < ?",
		c.merge(), c.column(), c.table(), c.dim()), c.s.site, c.s.from, c.s.to)
	return st
}

func (c visitorCount) end(st *stmt) *stmt {
	switch {
	case c.iv != "":
		st.add(" GROUP BY bucket")
	case c.prop != nil:
		st.add(" GROUP BY value")
	}
	return st
}

// estimateStmt counts the visitors of the top level: 1/2^maxLevel of each
// figure's.
func (c visitorCount) estimateStmt() *stmt {
	st := c.start()
	if c.prop != nil {
		st.add(" AND ")
		inList(st, "value", c.values)
	}
	st.add(fmt.Sprintf(" AND lvl >= %d", maxLevel))
	return c.end(st)
}

// countStmt counts each figure from the levels chosen for it: level[key]
// (0 when absent), keys as groupKey names them.
func (c visitorCount) countStmt(level map[string]int) *stmt {
	st := c.start()
	if c.visits {
		c.liveHours(st)
	}
	var branches []func()
	switch {
	case c.iv != "":
		// Runs of buckets of one level, as hour ranges.
		for _, r := range c.bucketRuns(level) {
			branches = append(branches, func() {
				st.add("hour >= ? AND hour < ?", r.from, r.to)
				levelAtLeast(st, r.level)
			})
		}
	case c.prop != nil:
		byLevel := map[int][]string{}
		var order []int
		for _, v := range c.values {
			k := level[v]
			if _, ok := byLevel[k]; !ok {
				order = append(order, k)
			}
			byLevel[k] = append(byLevel[k], v)
		}
		for _, k := range order {
			branches = append(branches, func() {
				inList(st, "value", byLevel[k])
				levelAtLeast(st, k)
			})
		}
	default:
		if k := level[""]; k > 0 {
			st.add(fmt.Sprintf(" AND lvl >= %d", k))
		}
	}
	if len(branches) > 0 {
		st.add(" AND (")
		for i, b := range branches {
			if i > 0 {
				st.add(" OR ")
			}
			st.add("(")
			b()
			st.add(")")
		}
		st.add(")")
	}
	return c.end(st)
}

// liveHours leaves out the hours of a value whose visits net to nothing:
// they hold only visits the loader rewrote into another value (or hour),
// whose visitors a unique-count state cannot give back.
func (c visitorCount) liveHours(st *stmt) {
	st.add(fmt.Sprintf(" AND (hour, value) NOT IN (SELECT hour, value FROM sessions_hourly WHERE site_id = ? AND dimension = '%s' AND hour >= ? AND hour < ?",
		c.dim()), c.s.site, c.s.from, c.s.to)
	if c.prop != nil {
		st.add(" AND ")
		inList(st, "value", c.values)
	}
	st.add(" GROUP BY hour, value HAVING sumMerge(visits) <= 0)")
}

// inList writes column IN (?, …) with one argument a value: ClickHouse
// 18.16 takes no array for IN, and a list of literals lets the sort key
// narrow the rows read to the values'.
func inList(st *stmt, column string, values []string) {
	st.add(column + " IN (")
	for i, v := range values {
		if i > 0 {
			st.add(", ")
		}
		st.add("?", v)
	}
	st.add(")")
}

func levelAtLeast(st *stmt, k int) {
	if k > 0 {
		st.add(fmt.Sprintf(" AND lvl >= %d", k))
	}
}

// run is a range of hours whose buckets are counted from one level.
type run struct {
	from, to time.Time
	level    int
}

// bucketRuns covers the scope's hours with runs of whole buckets of one
// level each, in order.
func (c visitorCount) bucketRuns(level map[string]int) []run {
	var out []run
	for b := c.iv.start(c.s.from); b.Before(c.s.to); b = c.iv.next(b) {
		from, to := maxTime(b, c.s.from), minTime(c.iv.next(b), c.s.to)
		k := level[c.iv.label(b)]
		if n := len(out); n > 0 && out[n-1].level == k {
			out[n-1].to = to
			continue
		}
		out = append(out, run{from: from, to: to, level: k})
	}
	return out
}

// groupKey names a row's figure: its bucket's label, its value, or ""
// for the total.
func (c visitorCount) groupKey(r row) string {
	switch {
	case c.iv != "":
		return c.iv.label(r.bucket)
	case c.prop != nil:
		return r.value
	}
	return ""
}

// countVisitors runs c: the estimate (unless every figure's level is in
// the scope's cache), then the count, and returns rows whose tally holds
// the figures (visitors, or a visit property's).
func countVisitors(ctx context.Context, conn driver.Conn, c visitorCount) ([]row, error) {
	if c.prop != nil && len(c.values) == 0 {
		return nil, nil
	}
	keys := c.figureKeys()
	level, known := c.s.levels.get(c, keys)
	if !known {
		estimates, err := query(ctx, conn, c.estimateStmt())
		if err != nil {
			return nil, fmt.Errorf("estimate visitors: %w", err)
		}
		level = map[string]int{}
		for _, r := range estimates {
			n := r.visitors + r.visitVisitors
			level[c.groupKey(r)] = levelFor(n << maxLevel)
		}
		c.s.levels.put(c, keys, level)
	}
	rows, err := query(ctx, conn, c.countStmt(level))
	if err != nil {
		return nil, fmt.Errorf("count visitors: %w", err)
	}
	for i := range rows {
		k := level[c.groupKey(rows[i])]
		rows[i].visitors <<= k
		rows[i].visitVisitors <<= k
	}
	return rows, nil
}

// figureKeys are the group keys of every figure c counts, whether or not
// it has rows: each bucket's label, each value, or "" for the total.
func (c visitorCount) figureKeys() []string {
	switch {
	case c.iv != "":
		var out []string
		for b := c.iv.start(c.s.from); b.Before(c.s.to); b = c.iv.next(b) {
			out = append(out, c.iv.label(b))
		}
		return out
	case c.prop != nil:
		return c.values
	}
	return []string{""}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
