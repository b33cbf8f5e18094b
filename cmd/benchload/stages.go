package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

// benchSite is the demo catalog's site, so that searches promote.
const benchSite = "demo"

// places are the run's own databases and topic prefixes, nobody else's,
// all named after --namespace (footbench): the database footbench in
// ClickHouse and PostgreSQL, the collector stages' topics footbench.*
// (which loader and enricher drain), the bare producer's
// footbench_ceiling.* and the whole pipeline's footbench_pipeline.*, empty
// when it starts.
type places struct {
	db, events, ceiling, pipeline string
}

func placesOf(namespace string) places {
	return places{db: namespace, events: namespace, ceiling: namespace + "_ceiling", pipeline: namespace + "_pipeline"}
}

// chromeUA is every request's User-Agent: a person's browser, for the
// collector leaves bots out of promotions.
const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// bench is one run: its options, the write key, where its processes go.
type bench struct {
	o     options
	at    places
	runID string
	key   string
	pgURL string // the run's PostgreSQL database
	ch    clickhouse.Config
	bin   string
	self  string
	port  int
}

func run(ctx context.Context, o options) ([]row, error) {
	b := &bench{o: o, port: o.ports, at: placesOf(o.namespace)}
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	b.runID, b.key = hex.EncodeToString(id), "bench-"+hex.EncodeToString(id)
	var err error
	if b.bin, err = filepath.Abs(o.footfall); err != nil {
		return nil, err
	}
	if _, err := os.Stat(b.bin); err != nil {
		return nil, fmt.Errorf("%s: %w (make build)", o.footfall, err)
	}
	if b.self, err = os.Executable(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.logDir, 0o755); err != nil {
		return nil, err
	}
	b.ch = o.ch
	b.ch.Database = b.at.db
	u, err := url.Parse(o.pg.URL)
	if err != nil {
		return nil, fmt.Errorf("--postgres-url: %w", err)
	}
	u.Path = "/" + b.at.db
	b.pgURL = u.String()
	fmt.Printf("benchload run %s: resetting %s (ClickHouse, PostgreSQL) and the %s* topics; logs in %s\n", b.runID, b.at.db, b.at.events, o.logDir)
	if err := b.reset(ctx); err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	var rows []row
	for _, s := range allStages {
		if !o.stages[s] {
			continue
		}
		fmt.Printf("stage %s ...\n", s)
		var got []row
		switch s {
		case "collector":
			got, err = b.collectorStage(ctx)
		case "batches":
			got, err = b.batchStage(ctx)
		case "loader":
			got, err = b.loaderStage(ctx)
		case "enricher":
			got, err = b.enricherStage(ctx)
		case "promotions":
			got, err = b.promotionsStage(ctx)
		case "pipeline":
			got, err = b.pipelineStage(ctx)
		}
		rows = append(rows, got...)
		if err != nil {
			return rows, fmt.Errorf("stage %s: %w", s, err)
		}
	}
	return rows, nil
}

// nextAddr is a fresh loopback port for the next process.
func (b *bench) nextAddr() string {
	b.port++
	return "127.0.0.1:" + strconv.Itoa(b.port)
}

// reset drops the run's databases and topics and migrates them afresh.
func (b *bench) reset(ctx context.Context) error {
	root, err := clickhouse.Open(ctx, b.o.ch, "default")
	if err != nil {
		return err
	}
	err = root.Exec(ctx, "DROP DATABASE IF EXISTS "+b.at.db)
	root.Close()
	if err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	pg, err := pgx.Connect(ctx, b.o.pg.URL)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	_, err = pg.Exec(ctx, "DROP DATABASE IF EXISTS "+b.at.db+" WITH (FORCE)")
	if err == nil {
		_, err = pg.Exec(ctx, "CREATE DATABASE "+b.at.db)
	}
	pg.Close(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	var topics []string
	for _, p := range []string{b.at.events, b.at.ceiling, b.at.pipeline} {
		topics = append(topics, event.AllTopics(p)...)
	}
	if err := kafka.DeleteTopics(b.o.kafka, topics); err != nil {
		return err
	}
	for _, p := range []string{b.at.events, b.at.ceiling, b.at.pipeline} {
		if err := b.migrate(ctx, p); err != nil {
			return err
		}
	}
	return b.footfallRun(ctx, "seed-demo", b.at.events, "seed-demo")
}

// migrate creates prefix's topics and the run's tables. Kafka may still be
// deleting the topics of the same names: then it is tried again.
func (b *bench) migrate(ctx context.Context, prefix string) error {
	var err error
	for try := 0; try < 30; try++ {
		if err = b.footfallRun(ctx, "migrate-"+prefix, prefix, "migrate"); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return err
}

// environment is what every footfall process of the run is set to, as
// FOOTFALL_<FLAG> variables: each takes those of its own flags.
func (b *bench) environment(prefix string) []string {
	return append(os.Environ(),
		"FOOTFALL_KAFKA_BROKERS="+strings.Join(b.o.kafka.Brokers, ","), "FOOTFALL_KAFKA_TOPIC_PREFIX="+prefix,
		"FOOTFALL_KAFKA_COMPRESSION="+b.o.kafka.Compression,
		"FOOTFALL_POSTGRES_URL="+b.pgURL,
		"FOOTFALL_CLICKHOUSE_ADDR="+b.ch.Addr, "FOOTFALL_CLICKHOUSE_DATABASE="+b.at.db,
		"FOOTFALL_LOG_FORMAT=text")
}

// footfallRun runs a footfall task to its end.
func (b *bench) footfallRun(ctx context.Context, name, prefix string, args ...string) error {
	log := filepath.Join(b.o.logDir, name+".log")
	f, err := os.Create(log)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = f, f, b.environment(prefix)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("footfall %s: %w: %s", args[0], err, tail(log))
	}
	return nil
}

// service starts `footfall <what>` on the run's places, listening on addr.
func (b *bench) service(ctx context.Context, what, prefix, addr string, extra ...string) (*proc, error) {
	if b.o.profile {
		extra = append(extra, "--pprof")
	}
	return start(ctx, b.o.logDir, what+"-"+prefix, addr, b.environment(prefix), append([]string{b.bin, what}, extra...)...)
}

// collectorFlags are a collector's: the run's write key, a spool of its own.
func (b *bench) collectorFlags(addr string) []string {
	return []string{"--collector-addr", addr, "--collector-sites", benchSite + "=" + b.key,
		"--collector-spool-dir", filepath.Join(b.o.logDir, "spool-"+b.runID+"-"+strings.ReplaceAll(addr, ":", "_"))}
}

func (b *bench) headers() http.Header {
	return http.Header{"Content-Type": {"application/json"}, "User-Agent": {chromeUA}}
}

// measure runs l against a process and reads the process's CPU and RSS
// over the run; a short unmeasured warm-up goes first. With --profile, the
// run's CPU profile goes to logDir/name.pprof.
func (b *bench) measure(ctx context.Context, l load, p *proc, name string) (result, usage, usage, error) {
	warm := l
	warm.duration = min(2*time.Second, l.duration/3)
	_ = warm.run(ctx)
	pid := p.cmd.Process.Pid
	u0, err := usageOf(pid)
	if err != nil {
		return result{}, u0, u0, err
	}
	wait := func() string { return "" }
	if b.o.profile {
		wait = profile(ctx, p, b.o.logDir, name, l.duration)
	}
	res := l.run(ctx)
	u1, err := usageOf(pid)
	if path := wait(); path != "" {
		fmt.Printf("  CPU profile: go tool pprof -top %s\n", path)
	}
	if res.requests == 0 {
		return res, u0, u1, errors.Join(err, fmt.Errorf("no request answered 2xx (first failure: %s)", res.firstFailure))
	}
	return res, u0, u1, err
}

// collectorStage: one event a request, the collector against bare gin.
func (b *bench) collectorStage(ctx context.Context) ([]row, error) {
	tr, err := newTraffic(b.key, 1, 20_000, 1)
	if err != nil {
		return nil, err
	}
	l := load{conns: b.o.conns, duration: b.o.duration, header: b.headers(), body: tr.body}

	addr := b.nextAddr()
	bare, err := start(ctx, b.o.logDir, "bare-gin", addr, nil, b.self, "bare-gin", "--addr", addr)
	if err != nil {
		return nil, err
	}
	l.url = "http://" + addr + "/v1/batch"
	ceil, c0, c1, err := b.measure(ctx, l, bare, "bare-gin")
	if serr := bare.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return nil, fmt.Errorf("bare gin: %w", err)
	}

	addr = b.nextAddr()
	col, err := b.service(ctx, "collector", b.at.events, addr, b.collectorFlags(addr)...)
	if err != nil {
		return nil, err
	}
	defer col.stop()
	l.url = "http://" + addr + "/v1/batch"
	res, u0, u1, err := b.measure(ctx, l, col, "collector-1-event")
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	return []row{
		{stage: fmt.Sprintf("collector, 1 event a request, %d conns", l.conns), figure: res.perSecond(), unit: "req/s",
			ceiling: ceil.perSecond(), against: "bare gin", p50: res.percentile(50), p99: res.percentile(99),
			latency: "request round trips (Kafka acks=all included)", cores: cores(u0, u1), rss: u1.rss,
			note: fmt.Sprintf("%d failed; bare gin p50/p99 %s/%s on %.2f cores", res.failed, ms(ceil.percentile(50)), ms(ceil.percentile(99)), cores(c0, c1))},
	}, col.stop()
}

// batchStage: 50-event batches through the collector, against a bare
// sarama producer publishing records like the collector's.
func (b *bench) batchStage(ctx context.Context) ([]row, error) {
	n := b.o.batch
	tr, err := newTraffic(b.key, n, 100_000, 2)
	if err != nil {
		return nil, err
	}
	addr := b.nextAddr()
	col, err := b.service(ctx, "collector", b.at.events, addr, b.collectorFlags(addr)...)
	if err != nil {
		return nil, err
	}
	defer col.stop()
	l := load{url: "http://" + addr + "/v1/batch", conns: b.o.batchConns, duration: b.o.duration, header: b.headers(), body: tr.body}
	res, u0, u1, err := b.measure(ctx, l, col, "collector-batches")
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	if err := col.stop(); err != nil {
		return nil, err
	}

	recs, err := stampedRecords(b.at.ceiling, 20_000)
	if err != nil {
		return nil, err
	}
	self0, _ := usageOf(os.Getpid())
	acked, failed, elapsed, err := kafka.Flood(ctx, b.o.kafka, "benchload", recs, l.conns, n, b.o.duration)
	self1, _ := usageOf(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("bare producer: %w", err)
	}
	// What Kafka takes from one process fed without waiting: for scale.
	flood, _, floodTime, err := kafka.Flood(ctx, b.o.kafka, "benchload", recs, 0, 0, b.o.duration)
	if err != nil {
		return nil, fmt.Errorf("bare async producer: %w", err)
	}
	return []row{
		{stage: fmt.Sprintf("collector, %d-event batches, %d conns", n, l.conns), figure: res.perSecond() * float64(n), unit: "events/s",
			ceiling: float64(acked) / elapsed.Seconds(), against: "bare sarama producer", p50: res.percentile(50), p99: res.percentile(99),
			latency: "request round trips (Kafka acks=all included)", cores: cores(u0, u1), rss: u1.rss,
			note: fmt.Sprintf("%d failed requests. The bare producer: %d goroutines each sending %d records and waiting (as the collector's requests), %d acknowledged, %d failed, on %.2f cores; fed without waiting (an AsyncProducer), %s records/s",
				res.failed, l.conns, n, acked, failed, cores(self0, self1), human(float64(flood)/floodTime.Seconds()))},
	}, nil
}

// stampedRecords are n events as the collector puts them on prefix's
// topics: stamped, encoded, keyed by visitor.
func stampedRecords(prefix string, n int) ([]kafka.Record, error) {
	recs := make([]kafka.Record, 0, n)
	for _, e := range generated(n, 3) {
		v, err := e.AppendJSON(nil)
		if err != nil {
			return nil, err
		}
		recs = append(recs, kafka.Record{Topic: event.Topic(prefix, e.Type), Key: []byte(e.Key()), Value: v})
	}
	return recs, nil
}
