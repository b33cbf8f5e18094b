package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// result is one call's timings: through the API and as raw SQL.
type result struct {
	call     call
	api, raw []time.Duration
}

// measure runs each call through the API and then its baseline query,
// call after call, round after round, one request at a time (the page
// sends its requests together; here each is timed alone). The baseline
// takes seconds a query, so it runs in the first o.rawRuns rounds only.
func measure(ctx context.Context, o options, d *dashboard, db driver.Conn, w window) ([]result, error) {
	client := &http.Client{Timeout: 60 * time.Second}
	results := make([]result, len(calls))
	for i, c := range calls {
		results[i].call = c
	}
	rounds := o.warmup + max(o.runs, o.rawRuns)
	if d == nil {
		rounds = o.warmup + o.rawRuns
	}
	for round := range rounds {
		timed := round >= o.warmup
		for i, c := range calls {
			if d != nil && round < o.warmup+o.runs {
				api, err := timeAPI(ctx, client, d, c)
				if err != nil {
					return nil, err
				}
				if timed {
					results[i].api = append(results[i].api, api)
				}
			}
			if round < o.warmup+o.rawRuns {
				raw, err := timeRaw(ctx, db, c, w)
				if err != nil {
					return nil, err
				}
				if timed {
					results[i].raw = append(results[i].raw, raw)
				}
			}
		}
		if round == o.warmup-1 || round == rounds-1 || (round-o.warmup+1)%5 == 0 {
			fmt.Printf("round %d of %d (%d warm-up)\n", round+1, rounds, o.warmup)
		}
	}
	return results, nil
}

// timeAPI is one request, until its whole answer is read.
func timeAPI(ctx context.Context, client *http.Client, d *dashboard, c call) (time.Duration, error) {
	q := url.Values{"site_id": {d.site}}
	for k, v := range c.params {
		q[k] = v
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/api/v1/stats/"+c.path+"?"+q.Encode(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+d.key)
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", c.name, err)
	}
	body, err := io.ReadAll(res.Body)
	elapsed := time.Since(start)
	if cerr := res.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("%s: read answer: %w", c.name, err)
	}
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s %s: %s", c.name, res.Status, req.URL.RequestURI(), strings.TrimSpace(string(body)))
	}
	return elapsed, nil
}

// timeRaw is the baseline query, until its last row is read.
func timeRaw(ctx context.Context, db driver.Conn, c call, w window) (time.Duration, error) {
	sql, args := c.raw(w)
	start := time.Now()
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: baseline query: %w", c.name, err)
	}
	for rows.Next() {
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("%s: baseline query: %w", c.name, err)
	}
	return time.Since(start), nil
}

// percentile is the nearest-rank percentile p (0 to 100) of ds; 0 for
// none.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// ms is d in milliseconds, or a dash for no measurement.
func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000)
}

// table prints the timings as a Markdown table, ready for
// docs/benchmarks.md.
func table(w io.Writer, results []result) {
	fmt.Fprintf(w, "\nmilliseconds: API over %d runs, raw over %d; ratio = p95 API / p95 raw\n\n", len(results[0].api), len(results[0].raw))
	fmt.Fprintln(w, "| call | on load | p50 API | p95 API | p50 raw | p95 raw | ratio (p95) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	var sum [4]time.Duration // the on-load calls' p50 and p95, API and raw
	for _, r := range results {
		p50, api, raw50, raw := percentile(r.api, 50), percentile(r.api, 95), percentile(r.raw, 50), percentile(r.raw, 95)
		if r.call.when == onLoad {
			for i, d := range []time.Duration{p50, api, raw50, raw} {
				sum[i] += d
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.call.name, r.call.when, ms(p50), ms(api), ms(raw50), ms(raw), ratio(api, raw))
	}
	// The page sends its on-load calls at once and, on two cores, is
	// ready after about their sum.
	fmt.Fprintf(w, "| **sum of the on-load calls** | | %s | %s | %s | %s | %s |\n", ms(sum[0]), ms(sum[1]), ms(sum[2]), ms(sum[3]), ratio(sum[1], sum[3]))
}

// ratio is api over raw, or a dash without both.
func ratio(api, raw time.Duration) string {
	if api <= 0 || raw <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.3fx", float64(api)/float64(raw))
}

func pageTable(w io.Writer, loads []load) {
	ready := map[string][]time.Duration{}
	for _, l := range loads {
		ready[l.Visit] = append(ready[l.Visit], time.Duration(l.ReadyMs*float64(time.Millisecond)))
		if len(l.Failed) > 0 || len(l.Errors) > 0 {
			fmt.Fprintf(w, "page load %d (%s visit): panels in error %v, page errors %v\n", l.Run, l.Visit, l.Failed, l.Errors)
		}
	}
	if len(loads) == 0 {
		fmt.Fprintln(w, "no page load finished")
		return
	}
	fmt.Fprintf(w, "\npage ready (navigation to every panel filled) in headless Chromium, milliseconds\n\n")
	fmt.Fprintln(w, "| visit | loads | p50 | p95 | max |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, visit := range []string{"first", "return"} {
		ds := ready[visit]
		if len(ds) == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s |\n", visit, len(ds), ms(percentile(ds, 50)), ms(percentile(ds, 95)), ms(slices.Max(ds)))
	}
}
