package dashboard_test

import (
	"math"
	"sort"
	"time"
)

// The expected funnels and retention cohorts of the data set.

// funnelWindow is how long after a visitor's first step the others count.
const funnelWindow = 24 * time.Hour

// pct is a share in percent with two decimals, 0 of nothing.
func pct(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return math.Round(float64(n)*100/float64(total)*100) / 100
}

// furthest is the furthest step a visitor's events (in time order) reach,
// each step after the one before and all within the window of the first.
func furthest(events []*ev, steps []func(*ev) bool) int {
	best := 0
	for i, e := range events {
		if !steps[0](e) {
			continue
		}
		level := 1
		for _, next := range events[i+1:] {
			if level == len(steps) || next.time.Sub(e.time) > funnelWindow {
				break
			}
			if steps[level](next) {
				level++
			}
		}
		best = max(best, level)
	}
	return best
}

// funnel is the expected funnel report, as JSON decodes it.
func (m *model) funnel(from, to time.Time, c cond, labels []string, steps []func(*ev) bool) map[string]any {
	byVisitor := map[string][]*ev{}
	for _, e := range m.eventsIn(from, to, c) {
		byVisitor[e.v.visitor] = append(byVisitor[e.v.visitor], e)
	}
	reached := make([]int, len(steps)+1) // visitors who reached at least step k
	for _, evs := range byVisitor {
		sort.Slice(evs, func(i, j int) bool { return evs[i].time.Before(evs[j].time) })
		for k := furthest(evs, steps); k >= 0; k-- {
			reached[k]++
		}
	}
	all := len(byVisitor)
	var out []any
	for k := 1; k <= len(steps); k++ {
		prev := reached[max(k-1, 1)]
		out = append(out, map[string]any{
			"step": float64(k), "label": labels[k-1], "visitors": float64(reached[k]),
			"conversion_rate": pct(reached[k], reached[1]), "conversion_rate_step": pct(reached[k], prev),
			"dropoff": float64(prev - reached[k]), "dropoff_percentage": pct(prev-reached[k], prev),
		})
	}
	return map[string]any{
		"steps": out, "all_visitors": float64(all),
		"entering_visitors": float64(reached[1]), "entering_visitors_percentage": pct(reached[1], all),
		"never_entering_visitors": float64(all - reached[1]), "never_entering_visitors_percentage": pct(all-reached[1], all),
	}
}

// monday is the Monday (UTC) of t's week.
func monday(t time.Time) time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// retention is the expected cohorts of the days first..last.
func (m *model) retention(first, last time.Time) []any {
	weeks := map[string]map[time.Time]bool{}
	for _, v := range m.visitsIn(first, last.AddDate(0, 0, 1), cond{}) {
		if weeks[v.visitor] == nil {
			weeks[v.visitor] = map[time.Time]bool{}
		}
		weeks[v.visitor][monday(v.first())] = true
	}
	cohortOf := map[string]time.Time{}
	for visitor, ws := range weeks {
		for w := range ws {
			if c, ok := cohortOf[visitor]; !ok || w.Before(c) {
				cohortOf[visitor] = w
			}
		}
	}
	out := []any{}
	for w := monday(first); !w.After(monday(last)); w = w.AddDate(0, 0, 7) {
		size := 0
		for _, c := range cohortOf {
			if c.Equal(w) {
				size++
			}
		}
		returning := []any{}
		for k, later := 1, w.AddDate(0, 0, 7); !later.After(monday(last)); k, later = k+1, later.AddDate(0, 0, 7) {
			n := 0
			for visitor, c := range cohortOf {
				if c.Equal(w) && weeks[visitor][later] {
					n++
				}
			}
			returning = append(returning, map[string]any{"week": float64(k), "visitors": float64(n), "percentage": pct(n, size)})
		}
		out = append(out, map[string]any{"cohort": w.Format(time.DateOnly), "visitors": float64(size), "returning": returning})
	}
	return out
}
