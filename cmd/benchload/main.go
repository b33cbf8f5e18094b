// Command benchload is Footfall's load generator and stage benchmark
// (`make bench`). Against the real local services it measures each stage
// of the pipeline next to its ceiling, measured in the same run, and
// prints one table:
//
//   - the collector taking one event a request over 256 connections,
//     against a bare gin handler reading the same bodies;
//   - the collector taking 50-event batches (acks from every in-sync
//     replica), against a bare sarama producer publishing the same kind
//     of records;
//   - the loader draining the topics into ClickHouse, against a direct
//     insert of the same rows;
//   - the enricher draining searches and clicks into PostgreSQL, against
//     a bare pgx batch of the same upserts;
//   - the promotions lookup over the visitors the enricher scored, against
//     a bare gin handler answering a fixed answer of the same size, and
//     its p99 at a fixed 10,000 lookups a second;
//   - the whole pipeline in one process (`footfall all`): the highest rate
//     at which the loader's lag stays under 5 s, and the time from a
//     search's acceptance to its promotion at that rate.
//
// The services run as processes of their own (bin/footfall), so CPU and
// RSS are theirs; the load comes from this process, on the same machine.
// Everything runs on loopback in databases and topics of its own
// (--namespace: the database footbench, the footbench*.* topics), reset at
// the start of a run.
//
//	go run ./cmd/benchload --footfall bin/footfall
//	go run ./cmd/benchload --smoke      # ten seconds: does it run (CI)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/postgres"
)

type options struct {
	footfall   string
	stages     map[string]bool
	duration   time.Duration
	conns      int
	batchConns int
	batch      int
	lookupRate float64
	rates      []float64
	soak       time.Duration
	logDir     string
	ports      int
	smoke      bool
	namespace  string
	profile    bool

	kafka kafka.Config
	pg    postgres.Config
	ch    clickhouse.Config
}

// allStages in the order they run.
var allStages = []string{"collector", "batches", "loader", "enricher", "promotions", "pipeline"}

const usageText = `Usage: benchload [flags]
       benchload bare-gin --addr HOST:PORT

Footfall's load generator and stage benchmark: each stage against its
ceiling in the same run, one table (docs/benchmarks.md).

`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bare-gin" {
		if err := bareGin(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "benchload bare-gin:", err)
			os.Exit(1)
		}
		return
	}
	o, err := parse(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "benchload:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rows, err := run(ctx, o)
	printTable(os.Stdout, o, rows)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchload:", err)
		os.Exit(1)
	}
}

func parse(args []string) (options, error) {
	o := options{kafka: kafka.DefaultConfig(), pg: postgres.DefaultConfig(), ch: clickhouse.DefaultConfig()}
	fs := flag.NewFlagSet("benchload", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usageText); fs.PrintDefaults() }
	o.kafka.RegisterFlags(fs)
	o.pg.RegisterFlags(fs)
	o.ch.RegisterFlags(fs)
	stages := fs.String("stages", strings.Join(allStages, ","), "stages to run, comma-separated: "+strings.Join(allStages, ", "))
	rates := fs.String("pipeline-rates", "10000,20000,30000,40000,60000,80000", "events/s the pipeline stage tries, in order; it stops at the first the pipeline does not sustain")
	fs.StringVar(&o.footfall, "footfall", "bin/footfall", "the footfall binary (make build)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each measured run lasts")
	fs.IntVar(&o.conns, "conns", 256, "connections of the one-event-a-request runs")
	fs.IntVar(&o.batchConns, "batch-conns", 32, "connections of the batch runs")
	fs.IntVar(&o.batch, "batch", 50, "events a request in the batch runs")
	fs.Float64Var(&o.lookupRate, "lookup-rate", 10_000, "lookups a second of the promotions stage's fixed-rate run")
	fs.DurationVar(&o.soak, "soak", 0, "after the pipeline stage, run the pipeline this long at half its sustained rate and report its RSS over time (0: no soak)")
	fs.StringVar(&o.logDir, "log-dir", ".data/benchload", "where the services' logs and the run's spool go")
	fs.IntVar(&o.ports, "port-base", 18280, "first of the ten loopback ports the run's processes listen on")
	fs.BoolVar(&o.profile, "profile", false, "run the services with --pprof and keep a CPU profile of each measured run in --log-dir")
	fs.StringVar(&o.namespace, "namespace", "footbench", "name of the run's own ClickHouse and PostgreSQL databases and prefix of its topics, all dropped at the start of a run: never a pipeline's (lower case letters and _)")
	fs.BoolVar(&o.smoke, "smoke", false, "a ten-second run of every stage that only checks the harness works (CI); its figures mean nothing")
	if err := config.Parse(fs, args); err != nil {
		return o, err
	}
	o.stages = map[string]bool{}
	for _, s := range strings.Split(*stages, ",") {
		s = strings.TrimSpace(s)
		if !contains(allStages, s) {
			return o, fmt.Errorf("--stages: unknown stage %q (have %s)", s, strings.Join(allStages, ", "))
		}
		o.stages[s] = true
	}
	if !regexp.MustCompile(`^[a-z][a-z_]*$`).MatchString(o.namespace) || o.namespace == "footfall" || o.namespace == "footfall_bench" {
		return o, fmt.Errorf("--namespace: %q must be lower case letters and _, and neither footfall nor footfall_bench", o.namespace)
	}
	for _, r := range strings.Split(*rates, ",") {
		var v float64
		if _, err := fmt.Sscan(strings.TrimSpace(r), &v); err != nil || v <= 0 {
			return o, fmt.Errorf("--pipeline-rates: %q is not a positive number", r)
		}
		o.rates = append(o.rates, v)
	}
	if o.smoke {
		o.duration, o.conns, o.batchConns, o.rates, o.lookupRate = time.Second, 16, 8, []float64{2000}, 1000
	}
	for _, v := range []func() error{o.kafka.Validate, o.pg.Validate, o.ch.Validate} {
		if err := v(); err != nil {
			return o, err
		}
	}
	return o, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
