package dashboard

import (
	"context"
	"errors"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The reports of the Stats API, each in one or two queries: event figures
// from events_hourly (or events), visit figures from sessions_hourly (or
// sessions), run side by side. Which tables answer is the scope's to say:
// the rollups unless there are filters.

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

// sides runs the event and the visit query of one report at once and
// returns their rows; a side without columns is not queried.
func sides(ctx context.Context, conn driver.Conn, s scope, g grouping, metrics []metric) (ev, vi []row, err error) {
	evCols, viCols := wants(metrics, false)
	var jobs []func() error
	if len(evCols) > 0 {
		jobs = append(jobs, func() (err error) { ev, err = query(ctx, conn, eventStmt(s, g, evCols)); return err })
	}
	if len(viCols) > 0 {
		jobs = append(jobs, func() (err error) { vi, err = query(ctx, conn, visitStmt(s, g, viCols)); return err })
	}
	return ev, vi, parallel(jobs...)
}

// totals are the figures of the whole scope.
func totals(ctx context.Context, conn driver.Conn, s scope, metrics []metric) (tally, error) {
	ev, vi, err := sides(ctx, conn, s, grouping{}, metrics)
	var t tally
	for _, r := range append(ev, vi...) {
		t.add(r.tally)
	}
	return t, err
}

// series are the figures of each time bucket that has any, by label.
func series(ctx context.Context, conn driver.Conn, s scope, iv interval, metrics []metric) (map[string]tally, error) {
	ev, vi, err := sides(ctx, conn, s, grouping{iv: iv}, metrics)
	out := map[string]tally{}
	for _, r := range append(ev, vi...) {
		t := out[iv.label(r.bucket)]
		t.add(r.tally)
		out[iv.label(r.bucket)] = t
	}
	return out, err
}

// rankBy is the metric a breakdown's rows are ranked by: the first one
// asked for, as in Plausible. Rows of an event property rank by an event
// figure (visitors unless another comes first), because visit figures
// join them afterwards.
func rankBy(prop property, metrics []metric) metric {
	if prop.visit {
		return metrics[0]
	}
	for _, m := range metrics {
		if !m.ofVisits() {
			return m
		}
	}
	return visitors
}

// breakdown is one page of a property's values with their figures,
// ranked. The visit figures of event:page are those of the visits that
// entered on the page, as Plausible reports a page's bounce rate.
func breakdown(ctx context.Context, conn driver.Conn, s scope, prop property, metrics []metric, limit, page int) ([]row, error) {
	rank := rankBy(prop, metrics)
	g := grouping{prop: &prop, order: orderSQL(rank, prop.visit), limit: limit, offset: (page - 1) * limit}
	if prop.visit {
		_, viCols := wants(metrics, true)
		return query(ctx, conn, visitStmt(s, g, viCols))
	}
	evCols, viCols := wants(append([]metric{rank}, metrics...), false)
	rows, err := query(ctx, conn, eventStmt(s, g, evCols))
	if err != nil || len(viCols) == 0 || len(rows) == 0 {
		return rows, err
	}
	entry, _ := lookupProperty("visit:entry_page")
	pages := make([]string, len(rows))
	for i, r := range rows {
		pages[i] = r.value
	}
	entries, err := query(ctx, conn, visitStmt(s, grouping{prop: &entry, only: pages}, viCols))
	if err != nil {
		return nil, err
	}
	byPage := make(map[string]tally, len(entries))
	for _, e := range entries {
		byPage[e.value] = e.tally
	}
	for i := range rows {
		rows[i].tally.add(byPage[rows[i].value])
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
