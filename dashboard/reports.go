package dashboard

import (
	"context"
	"errors"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The reports of the Stats API, each in a few queries run side by side:
// event figures from events_hourly (or events), visit figures from
// sessions_hourly (or sessions). Which tables answer is the scope's to
// say: the rollups unless there are filters. Over the rollups, unique
// visitors are counted apart from the sums (see visitors.go).

// eventStmt and visitStmt pick the table for the scope and grouping.
func eventStmt(s scope, g grouping, cols []string) *stmt {
	if s.fromRollups() && (g.prop == nil || g.prop.dim != "") {
		return rollupEvents(s, g, cols)
	}
	return rawEvents(s, g, cols)
}

func visitStmt(s scope, g grouping, cols []string) *stmt {
	if s.fromRollups() {
		return rollupVisits(s, g, cols)
	}
	return rawVisits(s, g, cols)
}

// part is one query of a report: a statement, or unique visitors counted
// over a rollup.
type part struct {
	st       *stmt
	visitors *visitorCount
}

func (p part) run(ctx context.Context, conn driver.Conn) ([]row, error) {
	if p.visitors != nil {
		return countVisitors(ctx, conn, *p.visitors)
	}
	return query(ctx, conn, p.st)
}

// runParts runs parts at once and returns all their rows.
func runParts(ctx context.Context, conn driver.Conn, parts []part) ([]row, error) {
	found := make([][]row, len(parts))
	jobs := make([]func() error, len(parts))
	for i, p := range parts {
		jobs[i] = func() (err error) { found[i], err = p.run(ctx, conn); return err }
	}
	err := parallel(jobs...)
	var out []row
	for _, f := range found {
		out = append(out, f...)
	}
	return out, err
}

// splitVisitors parts columns into the sums and the unique-visitor
// column among them, which the rollups count apart.
func splitVisitors(cols []string) (sums []string, visitors string) {
	for _, c := range cols {
		if c == "n_visitors" || c == "n_visit_visitors" {
			visitors = c
		} else {
			sums = append(sums, c)
		}
	}
	return sums, visitors
}

// figureParts are the parts of a total (iv "") or a series.
func figureParts(s scope, iv interval, metrics []metric) []part {
	evCols, viCols := wants(metrics, false)
	g := grouping{iv: iv}
	var parts []part
	if s.fromRollups() {
		var visitors string
		if evCols, visitors = splitVisitors(evCols); visitors != "" {
			parts = append(parts, part{visitors: &visitorCount{s: s, iv: iv}})
		}
	}
	if len(evCols) > 0 {
		parts = append(parts, part{st: eventStmt(s, g, evCols)})
	}
	if len(viCols) > 0 {
		parts = append(parts, part{st: visitStmt(s, g, viCols)})
	}
	return parts
}

// totals are the figures of the whole scope.
func totals(ctx context.Context, conn driver.Conn, s scope, metrics []metric) (tally, error) {
	rows, err := runParts(ctx, conn, figureParts(s, "", metrics))
	var t tally
	for _, r := range rows {
		t.add(r.tally)
	}
	return t, err
}

// series are the figures of each time bucket that has any, by label.
func series(ctx context.Context, conn driver.Conn, s scope, iv interval, metrics []metric) (map[string]tally, error) {
	rows, err := runParts(ctx, conn, figureParts(s, iv, metrics))
	out := map[string]tally{}
	for _, r := range rows {
		t := out[iv.label(r.bucket)]
		t.add(r.tally)
		out[iv.label(r.bucket)] = t
	}
	return out, err
}

// rankBy is the metric a breakdown's rows are ranked by: the first one
// asked for, as in Plausible. Rows of an event property rank by an event
// figure (visitors unless another comes first), because visit figures
// join them afterwards. Visitors themselves are never the rank: a
// breakdown that asks for them first ranks by their additive companion
// (see countedWith), so that only the rows of the page asked for merge a
// unique-visitor state.
func rankBy(prop property, metrics []metric) metric {
	rank := visitors
	if prop.visit {
		rank = metrics[0]
	} else {
		for _, m := range metrics {
			if !m.ofVisits() {
				rank = m
				break
			}
		}
	}
	if rank == visitors {
		return countedWith(prop)
	}
	return rank
}

// countedWith is the additive figure that ranks a breakdown in place of
// visitors: a page's pageviews, a visit property's visits (a visitor makes
// at least one), any other event property's events. Summing it over the
// rollups' hourly rows costs milliseconds where merging the visitors of
// every value's hours costs a hundred times more on a busy site.
func countedWith(prop property) metric {
	switch {
	case prop.visit:
		return visits
	case prop.name == "event:page":
		return pageviews
	}
	return events
}

// breakdownPlan is how a breakdown is read: ranked picks the page of
// values asked for, in order, with some of their figures; fill returns the
// parts that add the others for those values.
type breakdownPlan struct {
	ranked *stmt
	fill   func(values []string) []part
}

// planBreakdown plans one page of a breakdown by prop. Over the rollups
// the values are ranked on sums alone and unique visitors are counted
// only for the values of the page, apart; a filtered breakdown reads raw
// rows, where counting visitors costs little more than reading them, so
// it counts them while ranking. The visit figures of event:page are those
// of the visits that entered on each page, as Plausible reports a page's
// bounce rate; they are read for the page's values too.
func planBreakdown(s scope, prop property, metrics []metric, limit, page int) breakdownPlan {
	rank := rankBy(prop, metrics)
	g := grouping{prop: &prop, order: orderSQL(rank, prop.visit), limit: limit, offset: (page - 1) * limit}
	evCols, viCols := wants(append([]metric{rank}, metrics...), prop.visit)
	own := evCols
	if prop.visit {
		own = viCols
	}
	var visitors string
	if s.fromRollups() && (prop.visit || prop.dim != "") {
		own, visitors = splitVisitors(own)
	}
	ranked := eventStmt(s, g, own)
	if prop.visit {
		ranked = visitStmt(s, g, own)
	}
	entry, _ := lookupProperty("visit:entry_page")
	return breakdownPlan{
		ranked: ranked,
		fill: func(values []string) []part {
			var parts []part
			if visitors != "" {
				parts = append(parts, part{visitors: &visitorCount{s: s, visits: prop.visit, prop: &prop, values: values}})
			}
			if !prop.visit && len(viCols) > 0 {
				parts = append(parts, part{st: visitStmt(s, grouping{prop: &entry, only: values}, viCols)})
			}
			return parts
		},
	}
}

// breakdown is one page of a property's values with their figures,
// ranked (see planBreakdown).
func breakdown(ctx context.Context, conn driver.Conn, s scope, prop property, metrics []metric, limit, page int) ([]row, error) {
	plan := planBreakdown(s, prop, metrics, limit, page)
	rows, err := query(ctx, conn, plan.ranked)
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	values := make([]string, len(rows))
	for i, r := range rows {
		values[i] = r.value
	}
	found, err := runParts(ctx, conn, plan.fill(values))
	if err != nil {
		return nil, err
	}
	byValue := make(map[string]tally, len(values))
	for _, r := range found {
		t := byValue[r.value]
		t.add(r.tally)
		byValue[r.value] = t
	}
	for i := range rows {
		rows[i].tally.add(byValue[rows[i].value])
	}
	return rows, nil
}

// parallel runs jobs at once and waits for all of them.
func parallel(jobs ...func() error) error {
	if len(jobs) == 1 {
		return jobs[0]()
	}
	errs := make(chan error, len(jobs))
	for _, job := range jobs {
		go func() { errs <- job() }()
	}
	var all []error
	for range jobs {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}
