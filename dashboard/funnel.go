package dashboard

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// A funnel is Footfall's addition to the Stats API: how many visitors took
// each of a few steps in order, each step within a day of the first, as
// Plausible's funnels count them. The steps parameter lists the steps as
// filters separated by |, e.g. event:page==/|event:page==/cart|event:name==Checkout;
// a | that does not start a property (event:…) separates a step's
// alternative values, as in filters: event:page==/|/home|event:page==/cart
// is two steps.

const (
	funnelWindowSeconds = 24 * 60 * 60
	minSteps, maxSteps  = 2, 8
)

// step is one step of a funnel: a filter on an event property.
type step struct {
	label string // as written in the steps parameter
	filter
}

// parseSteps reads the steps parameter.
func parseSteps(raw string) ([]step, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, badRequest("The `steps` parameter is required: steps joined by |, e.g. event:page==/|event:page==/cart|event:name==Checkout.")
	}
	var labels []string
	start := 0
	for _, at := range unescapedBars(raw) {
		if rest := raw[at+1:]; strings.HasPrefix(rest, "event:") || strings.HasPrefix(rest, "visit:") {
			labels = append(labels, raw[start:at])
			start = at + 1
		}
	}
	labels = append(labels, raw[start:])
	if len(labels) < minSteps || len(labels) > maxSteps {
		return nil, badRequest("Error parsing `steps` parameter: a funnel has %d to %d steps, this one %d.", minSteps, maxSteps, len(labels))
	}
	steps := make([]step, len(labels))
	for i, l := range labels {
		f, err := parseFilter(l)
		if err != nil {
			var bad *apiError
			if errors.As(err, &bad) {
				return nil, badRequest("Error parsing `steps` parameter: step %d: %s", i+1, bad.msg)
			}
			return nil, err
		}
		if f.prop.visit {
			return nil, badRequest("Error parsing `steps` parameter: step %d `%s` is on a visit property; a step is an event: event:page, event:name, event:search, event:click or event:props:KEY.", i+1, l)
		}
		steps[i] = step{label: strings.TrimSpace(l), filter: f}
	}
	return steps, nil
}

// unescapedBars returns where raw has a | that no backslash escapes.
func unescapedBars(raw string) []int {
	var at []int
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			i++
		case '|':
			at = append(at, i)
		}
	}
	return at
}

// funnelStmt scores each visitor of the scope by the furthest step
// reached (windowFunnel; 0 for none), and counts visitors per score.
func funnelStmt(s scope, steps []step) *stmt {
	st := &stmt{}
	st.add(fmt.Sprintf("SELECT toInt64(level) AS level, toInt64(count()) AS visitors FROM (SELECT %s AS visitor, windowFunnel(%d)(time", visitorExpr, funnelWindowSeconds))
	for _, s := range steps {
		sql, args := s.condition()
		st.add(", "+sql, args...)
	}
	st.add(") AS level FROM events WHERE ")
	eventWhere(st, s, s.from, s.to)
	st.add(" GROUP BY visitor) GROUP BY level")
	return st
}

// funnelStep is one step of the answer, in Plausible's funnel report
// shape.
type funnelStep struct {
	Step               int     `json:"step"`
	Label              string  `json:"label"`
	Visitors           int64   `json:"visitors"`
	ConversionRate     float64 `json:"conversion_rate"`
	ConversionRateStep float64 `json:"conversion_rate_step"`
	Dropoff            int64   `json:"dropoff"`
	DropoffPercentage  float64 `json:"dropoff_percentage"`
}

// funnelReport is the answer of /api/v1/stats/funnel.
type funnelReport struct {
	Steps                           []funnelStep `json:"steps"`
	AllVisitors                     int64        `json:"all_visitors"`
	EnteringVisitors                int64        `json:"entering_visitors"`
	EnteringVisitorsPercentage      float64      `json:"entering_visitors_percentage"`
	NeverEnteringVisitors           int64        `json:"never_entering_visitors"`
	NeverEnteringVisitorsPercentage float64      `json:"never_entering_visitors_percentage"`
}

func runFunnel(ctx context.Context, conn driver.Conn, s scope, steps []step) (funnelReport, error) {
	st := funnelStmt(s, steps)
	rows, err := conn.Query(ctx, st.String(), st.args...)
	if err != nil {
		return funnelReport{}, fmt.Errorf("funnel query: %w", err)
	}
	byLevel := map[int64]int64{}
	for rows.Next() {
		var level, n int64
		if err := rows.Scan(&level, &n); err != nil {
			rows.Close()
			return funnelReport{}, fmt.Errorf("read funnel: %w", err)
		}
		byLevel[level] = n
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return funnelReport{}, fmt.Errorf("read funnel: %w", err)
	}
	return funnelOf(steps, byLevel), nil
}

// funnelOf turns visitors by furthest step into the report: a visitor who
// reached step k took every step before it.
func funnelOf(steps []step, byLevel map[int64]int64) funnelReport {
	var r funnelReport
	for _, n := range byLevel {
		r.AllVisitors += n
	}
	var first, prev int64
	for i, s := range steps {
		var n int64
		for level, c := range byLevel {
			if level >= int64(i+1) {
				n += c
			}
		}
		fs := funnelStep{Step: i + 1, Label: s.label, Visitors: n}
		if i == 0 {
			first, prev = n, n
		}
		fs.ConversionRate = percent(n, first)
		fs.ConversionRateStep = percent(n, prev)
		fs.Dropoff = prev - n
		fs.DropoffPercentage = percent(prev-n, prev)
		prev = n
		r.Steps = append(r.Steps, fs)
	}
	r.EnteringVisitors = first
	r.NeverEnteringVisitors = r.AllVisitors - first
	r.EnteringVisitorsPercentage = percent(first, r.AllVisitors)
	r.NeverEnteringVisitorsPercentage = percent(r.AllVisitors-first, r.AllVisitors)
	return r
}

// percent is a share of total in percent, two decimals; 0 of nothing.
func percent(n, total int64) float64 {
	if total == 0 {
		return 0
	}
	return round2(float64(n) * 100 / float64(total))
}
