// Command benchdash measures the dashboard's Stats API on generated data
// (`make bench-dashboard`). It makes sure the bench database holds the
// generated events (running `footfall generate` only when they are
// missing), starts `footfall dashboard` on that database, then times every
// request the dashboard page makes, each run followed by the same figures
// computed from the raw events table in ClickHouse: the baseline, measured
// in the same loop so that the machine's noise falls on both alike. Last,
// it loads the page in headless Chromium and times it until every panel
// is filled. See docs/benchmarks.md.
//
//	go run ./cmd/benchdash --footfall bin/footfall
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/footfall/footfall/internal/clickhouse"
)

type options struct {
	ch           clickhouse.Config
	site         string
	events       int
	footfall     string
	addr         string
	runs, warmup int
	rawRuns      int
	pageRuns     int
	nodeModules  string
	chromium     string
	pageScript   string
	logDir       string
	api          bool
}

func main() {
	o := options{ch: clickhouse.DefaultConfig()}
	o.ch.Database = "footfall_bench"
	if a := os.Getenv("FOOTFALL_CLICKHOUSE_ADDR"); a != "" {
		o.ch.Addr = a
	}
	fs := flag.NewFlagSet("benchdash", flag.ExitOnError)
	fs.StringVar(&o.ch.Addr, "clickhouse-addr", o.ch.Addr, "ClickHouse native protocol address")
	fs.StringVar(&o.ch.Database, "clickhouse-database", o.ch.Database, "database of the generated events (created if missing)")
	fs.StringVar(&o.site, "site", "bench", "site of the generated events")
	fs.IntVar(&o.events, "events", 10_000_000, "events the site must have; fewer and none: generate them")
	fs.StringVar(&o.footfall, "footfall", "bin/footfall", "the footfall binary (make build)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:18184", "where the benchmark's dashboard listens (a free port: not the pipeline's 8084)")
	fs.IntVar(&o.runs, "runs", 30, "timed runs of each call")
	fs.IntVar(&o.rawRuns, "raw-runs", 10, "timed runs of each baseline query (seconds each on 10M events), in the first rounds")
	fs.IntVar(&o.warmup, "warmup", 2, "untimed runs of each call and query first")
	fs.IntVar(&o.pageRuns, "page-runs", 10, "page loads in Chromium (0: skip the page)")
	fs.StringVar(&o.nodeModules, "node-modules", "", "node_modules holding playwright-core (default: dashboard/web's, else sdk-js's)")
	fs.StringVar(&o.chromium, "chromium", "/usr/bin/chromium", "Chromium binary")
	fs.StringVar(&o.pageScript, "page-script", "cmd/benchdash/pageready.mjs", "the page timing script")
	fs.StringVar(&o.logDir, "log-dir", os.TempDir(), "where the dashboard's and the generator's logs go")
	fs.BoolVar(&o.api, "api", true, "measure the API and the page; false: the raw-events baseline only")
	_ = fs.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "benchdash:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	conn, err := clickhouse.Open(ctx, o.ch, "default")
	if err != nil {
		return err
	}
	defer conn.Close()
	newest, err := ensureData(ctx, conn, o)
	if err != nil {
		return err
	}
	w := windowOf(o.site, time.Now(), 30)
	if newest.Before(w.from.AddDate(0, 0, 7)) {
		fmt.Printf("warning: the newest event is from %s; period=30d (%s to %s) holds little of the data: drop %s and run again\n",
			newest.Format(time.DateOnly), w.from.Format(time.DateOnly), w.to.AddDate(0, 0, -1).Format(time.DateOnly), o.ch.Database)
	}
	var inWindow uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+o.ch.Database+".events WHERE site_id = ? AND time >= ? AND time < ?", o.site, w.from, w.to).Scan(&inWindow); err != nil {
		return fmt.Errorf("count events in the period: %w", err)
	}
	fmt.Printf("period=30d: %s to %s, %d events of site %s in %s\n",
		w.from.Format(time.DateOnly), w.to.AddDate(0, 0, -1).Format(time.DateOnly), inWindow, o.site, o.ch.Database)

	db, err := clickhouse.Open(ctx, o.ch, o.ch.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	var dash *dashboard
	if o.api {
		if dash, err = startDashboard(ctx, o); err != nil {
			return err
		}
		defer dash.stop()
	}

	results, err := measure(ctx, o, dash, db, w)
	if err != nil {
		return err
	}
	table(os.Stdout, results)
	if !o.api || o.pageRuns == 0 {
		return nil
	}
	ready, err := pageReady(ctx, o, dash)
	if err != nil {
		return err
	}
	pageTable(os.Stdout, ready)
	return nil
}
