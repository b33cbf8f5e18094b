package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/postgres"
	"github.com/footfall/footfall/loader"
)

// drain is a consumer catching up with a backlog: the rate its committed
// offsets advance, from its first commit on, for the run's duration or
// until it has caught up.
type drain struct {
	committed func(ctx context.Context) (int64, error) // sum over its partitions
	end       int64                                    // the backlog's end: where it catches up
	profile   string                                   // with --profile: the profile's name
	logDir    string
}

func (d drain) measure(ctx context.Context, p *proc, duration time.Duration) (perSecond float64, u0, u1 usage, err error) {
	var c0 int64
	deadline := time.Now().Add(60 * time.Second)
	for c0 == 0 {
		if c0, err = d.committed(ctx); err != nil {
			return 0, u0, u1, err
		}
		if time.Now().After(deadline) {
			return 0, u0, u1, fmt.Errorf("%s committed nothing within 60 s: %s", p.name, tail(p.log))
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return 0, u0, u1, err
		}
	}
	if u0, err = usageOf(p.cmd.Process.Pid); err != nil {
		return 0, u0, u1, err
	}
	if d.profile != "" {
		wait := profile(ctx, p, d.logDir, d.profile, duration)
		defer func() {
			if path := wait(); path != "" {
				fmt.Printf("  CPU profile: go tool pprof -top %s\n", path)
			}
		}()
	}
	c1 := c0
	for stop := time.Now().Add(duration); time.Now().Before(stop) && c1 < d.end; {
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return 0, u0, u1, err
		}
		if c1, err = d.committed(ctx); err != nil {
			return 0, u0, u1, err
		}
	}
	if u1, err = usageOf(p.cmd.Process.Pid); err != nil {
		return 0, u0, u1, err
	}
	if c1 == c0 {
		return 0, u0, u1, fmt.Errorf("%s committed nothing more within %s: %s", p.name, duration, tail(p.log))
	}
	return float64(c1-c0) / u1.at.Sub(u0.at).Seconds(), u0, u1, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// profileName is name with --profile, else "".
func (b *bench) profileName(name string) string {
	if b.o.profile {
		return name
	}
	return ""
}

// kafkaCommitted sums group's committed offsets over topics.
func kafkaCommitted(in *kafka.Inspector, group string, topics []string) func(context.Context) (int64, error) {
	return func(context.Context) (int64, error) {
		var n int64
		for _, t := range topics {
			offs, err := in.Committed(group, t)
			if err != nil {
				return 0, err
			}
			for _, o := range offs {
				n += o
			}
		}
		return n, nil
	}
}

// newest sums the end offsets of topics.
func newest(in *kafka.Inspector, topics []string) (int64, error) {
	spans, err := in.Spans(topics...)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, s := range spans {
		n += s.Newest
	}
	return n, nil
}

// loaderStage: the loader drains what the collector stages wrote.
func (b *bench) loaderStage(ctx context.Context) ([]row, error) {
	in, err := kafka.NewInspector(b.o.kafka)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	topics := event.EventTopics(b.at.events)
	end, err := newest(in, topics)
	if err != nil || end == 0 {
		return nil, errors.Join(err, fmt.Errorf("the %s topics are empty: run the collector stages first", b.at.events))
	}
	group := "benchload-loader-" + b.runID
	addr := b.nextAddr()
	p, err := b.service(ctx, "loader", b.at.events, addr, "--loader-addr", addr, "--loader-group", group)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	rate, u0, u1, err := drain{committed: kafkaCommitted(in, group, topics), end: end, profile: b.profileName("loader"), logDir: b.o.logDir}.measure(ctx, p, b.o.duration)
	if err != nil {
		return nil, err
	}
	if err := p.stop(); err != nil {
		return nil, err
	}
	ceiling, err := b.loaderCeiling(ctx)
	if err != nil {
		return nil, fmt.Errorf("direct insert: %w", err)
	}
	return []row{{stage: "loader, Kafka → ClickHouse (backlog)", figure: rate, unit: "rows/s", cores: cores(u0, u1), rss: u1.rss,
		ceiling: ceiling, against: "direct insert",
		note: fmt.Sprintf("a backlog of %d records; the ceiling: generated events, rows built beforehand, 10,000 an insert into the same table through clickhouse-go (loader.Ceiling)", end)}}, nil
}

// loaderCeiling is loader.Ceiling's rows/s over the run's duration, on
// generated events in batches of the loader's default 10,000, the rows
// built before the clock runs.
func (b *bench) loaderCeiling(ctx context.Context) (float64, error) {
	conn, err := clickhouse.Open(ctx, b.ch, b.at.db)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	const batch = 10_000
	events := generated(5*batch, 6)
	batches := make([][][]any, 0, len(events)/batch)
	for i := 0; i+batch <= len(events); i += batch {
		batches = append(batches, loader.Rows(events[i:i+batch]))
	}
	c := loader.NewCeiling(conn)
	n, took := 0, time.Duration(0)
	for i := 0; took < b.o.duration; i++ {
		start := time.Now()
		if err := c.Insert(ctx, batches[i%len(batches)]); err != nil {
			return 0, err
		}
		took += time.Since(start)
		n += batch
	}
	return float64(n) / took.Seconds(), nil
}

// enricherStage: the enricher drains the searches and clicks (and the
// rest of its topics) the collector stages wrote.
func (b *bench) enricherStage(ctx context.Context) ([]row, error) {
	in, err := kafka.NewInspector(b.o.kafka)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	var topics []string
	for _, t := range enricher.Types {
		topics = append(topics, event.Topic(b.at.events, t))
	}
	end, err := newest(in, topics)
	if err != nil || end == 0 {
		return nil, errors.Join(err, fmt.Errorf("the %s topics are empty: run the collector stages first", b.at.events))
	}
	pg, err := pgx.Connect(ctx, b.pgURL)
	if err != nil {
		return nil, err
	}
	defer pg.Close(context.Background())
	group := "benchload-enricher-" + b.runID
	committed := func(ctx context.Context) (int64, error) {
		var n int64
		err := pg.QueryRow(ctx, "SELECT coalesce(sum(next_offset), 0)::bigint FROM consumer_offsets WHERE group_id = $1", group).Scan(&n)
		return n, err
	}
	addr := b.nextAddr()
	p, err := b.service(ctx, "enricher", b.at.events, addr, "--enricher-addr", addr, "--enricher-group", group)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	rate, u0, u1, err := drain{committed: committed, end: end, profile: b.profileName("enricher"), logDir: b.o.logDir}.measure(ctx, p, b.o.duration)
	if err != nil {
		return nil, err
	}
	if err := p.stop(); err != nil {
		return nil, err
	}
	ceiling, err := b.enricherCeiling(ctx)
	if err != nil {
		return nil, fmt.Errorf("bare pgx batch: %w", err)
	}
	return []row{{stage: "enricher, Kafka → PostgreSQL (backlog)", figure: rate, unit: "events/s", cores: cores(u0, u1), rss: u1.rss,
		ceiling: ceiling, against: "bare pgx batch",
		note: fmt.Sprintf("a backlog of %d records of %s; the ceiling: generated records of those types, 1,000 a batch, decoded, matched and upserted as one pgx batch (enricher.Ceiling)", end, strings.Join(topics, ", "))}}, nil
}

// enricherCeiling is enricher.Ceiling's events/s over the run's duration,
// on generated events of the enricher's types, 1,000 a batch as the
// enricher's default batch.
func (b *bench) enricherCeiling(ctx context.Context) (float64, error) {
	cfg := postgres.DefaultConfig()
	cfg.URL = b.pgURL
	pool, err := postgres.Open(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	var recs []kafka.Record
	for _, e := range generated(200_000, 5) {
		if !slices.Contains(enricher.Types, e.Type) {
			continue
		}
		e.SiteID = benchSite
		v, err := e.AppendJSON(nil)
		if err != nil {
			return 0, err
		}
		recs = append(recs, kafka.Record{Topic: event.Topic(b.at.events, e.Type), Key: []byte(e.Key()), Value: v})
	}
	const batch = 1000
	if len(recs) < batch {
		return 0, fmt.Errorf("only %d generated records of the enricher's types", len(recs))
	}
	c := enricher.NewCeiling(pool, enricher.DefaultConfig())
	n, start := 0, time.Now()
	for i := 0; time.Since(start) < b.o.duration; i += batch {
		if err := c.Apply(ctx, recs[i%(len(recs)-batch+1):][:batch]); err != nil {
			return 0, err
		}
		n += batch
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// lagTracker follows a consumer group against the topics' end: the lag is
// how long ago the oldest record it has not committed was written, to the
// tracker's resolution.
type lagTracker struct {
	in     *kafka.Inspector
	group  string
	topics []string

	mu   sync.Mutex
	ends []endAt
	max  time.Duration
}

type endAt struct {
	at  time.Time
	end int64
}

func (lt *lagTracker) sample() error {
	end, err := newest(lt.in, lt.topics)
	if err != nil {
		return err
	}
	now := time.Now()
	committed, err := kafkaCommitted(lt.in, lt.group, lt.topics)(context.Background())
	if err != nil {
		return err
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	lt.ends = append(lt.ends, endAt{now, end})
	lag := time.Duration(0)
	if committed < end {
		// The newest sample whose end the consumer has committed: what
		// was written after it is not.
		since := lt.ends[0].at
		for _, e := range lt.ends {
			if e.end <= committed {
				since = e.at
			}
		}
		lag = now.Sub(since)
	}
	lt.max = max(lt.max, lag)
	return nil
}

func (lt *lagTracker) reset() (maxLag time.Duration) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	maxLag, lt.max = lt.max, 0
	return maxLag
}

// prober sends a search for "humidifier" by a new visitor now and then
// and times, from the collector's 200, until the promotions API shows that
// visitor a promotion.
type prober struct {
	collector, promotions string
	key                   string
	tr                    *traffic

	mu       sync.Mutex
	took     []time.Duration
	timeouts int
	refused  string // why the collector did not take a probe, the first time
}

func (pr *prober) refuse(why string) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.refused == "" {
		pr.refused = why
	}
}

func (pr *prober) probe(ctx context.Context, n int) {
	visitor := fmt.Sprintf("probe-%d-%d", time.Now().UnixNano(), n)
	id := []byte(idHole)
	pr.tr.putID(id)
	now := time.Now().UnixMilli()
	body := fmt.Sprintf(`{"site":%q,"sent_at":%d,"events":[{"id":%q,"type":"search","ts":%d,"anonymous_id":%q,"session_id":%q,`+
		`"page":{"url":"http://shop.example/demo/search.html?q=humidifier","path":"/demo/search.html"},"search":{"keyword":"humidifier","results":3}}]}`,
		pr.key, now, id, now, visitor, visitor)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, pr.collector, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", chromeUA)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			pr.refuse(err.Error())
		}
		return
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		pr.refuse(fmt.Sprintf("%s %s", res.Status, answer))
		return
	}
	accepted := time.Now()
	url := pr.promotions + "?site=" + benchSite + "&user=" + visitor
	for time.Since(accepted) < 5*time.Second && ctx.Err() == nil {
		if shown(ctx, url) {
			pr.mu.Lock()
			pr.took = append(pr.took, time.Since(accepted))
			pr.mu.Unlock()
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	pr.mu.Lock()
	pr.timeouts++
	pr.mu.Unlock()
}

func shown(ctx context.Context, url string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	var got struct {
		Promotions []struct {
			Score float64 `json:"score"`
		} `json:"promotions"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&got) != nil {
		return false
	}
	for _, p := range got.Promotions {
		if p.Score > 0 { // not one of the site's defaults
			return true
		}
	}
	return false
}

func (pr *prober) take() (took []time.Duration, timeouts int) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	took, timeouts = pr.took, pr.timeouts
	pr.took, pr.timeouts = nil, 0
	slices.Sort(took)
	return took, timeouts
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p/100))]
}

// step is the pipeline at one offered rate.
type step struct {
	offered, achieved float64
	failed            int64
	maxLag, drainLag  time.Duration
	probes            []time.Duration
	timeouts          int
	u0, u1            usage
}

func (s step) sustained() bool {
	return s.achieved >= 0.95*s.offered && s.failed == 0 && s.maxLag < 5*time.Second && s.timeouts == 0
}

func (s step) String() string {
	verdict := "sustained"
	if !s.sustained() {
		verdict = "not sustained"
	}
	return fmt.Sprintf("%s offered: %s events/s sent, %d failed, loader lag max %.1f s, search → promotion p50/p99 %s/%s (%d probes, %d timed out), %.2f cores, %d MiB: %s",
		human(s.offered), human(s.achieved), s.failed, s.maxLag.Seconds(), ms(pct(s.probes, 50)), ms(pct(s.probes, 99)), len(s.probes), s.timeouts,
		cores(s.u0, s.u1), s.u1.rss>>20, verdict)
}

// pipelineStage runs `footfall all` at rising rates and reports the
// highest it sustains: every event answered, the loader's lag under 5 s,
// every probe's promotion shown.
func (b *bench) pipelineStage(ctx context.Context) ([]row, error) {
	in, err := kafka.NewInspector(b.o.kafka)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	// Every service of `footfall all` listens on a port of the bench's
	// own, whatever else runs on this machine (make up's pipeline).
	out, err := exec.CommandContext(ctx, b.bin, "ports").Output()
	if err != nil {
		return nil, fmt.Errorf("%s ports: %w", b.bin, err)
	}
	addrs := map[string]string{}
	var flags []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		s, _, _ := strings.Cut(line, " ")
		addrs[s] = b.nextAddr()
		flags = append(flags, "--"+s+"-addr", addrs[s])
	}
	loaderGroup := "benchload-pipeline-loader-" + b.runID
	flags = append(flags, b.collectorFlags(addrs["collector"])[2:]...)
	flags = append(flags, "--loader-group", loaderGroup, "--enricher-group", "benchload-pipeline-enricher-"+b.runID)
	p, err := b.service(ctx, "all", b.at.pipeline, addrs["collector"], flags...)
	if err != nil {
		return nil, err
	}
	defer p.stop()

	n := b.o.batch
	tr, err := newTraffic(b.key, n, 100_000, 4)
	if err != nil {
		return nil, err
	}
	lt := &lagTracker{in: in, group: loaderGroup, topics: event.EventTopics(b.at.pipeline)}
	pr := &prober{collector: "http://" + addrs["collector"] + "/v1/batch", promotions: "http://" + addrs["promotions"] + "/v1/promotions", key: b.key, tr: tr}
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	var wg sync.WaitGroup
	var sampleErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		for bg.Err() == nil {
			if err := lt.sample(); err != nil && sampleErr == nil {
				sampleErr = err
			}
			_ = sleep(bg, 250*time.Millisecond)
		}
	}()
	var probing atomic.Bool // only while load runs: what is timed is the search under load
	go func() {
		defer wg.Done()
		for i := 0; bg.Err() == nil; i++ {
			if probing.Load() {
				go pr.probe(bg, i)
			}
			_ = sleep(bg, 100*time.Millisecond)
		}
	}()
	defer func() { stopBG(); wg.Wait() }()

	var steps []step
	var best *step
	for _, rate := range b.o.rates {
		// Start each step caught up.
		if err := b.catchUp(ctx, lt, 60*time.Second); err != nil {
			return nil, err
		}
		lt.reset()
		u0, err := usageOf(p.cmd.Process.Pid)
		if err != nil {
			return nil, err
		}
		probing.Store(true)
		res := load{url: pr.collector, conns: b.o.batchConns, rate: rate / float64(n), duration: b.o.duration, header: b.headers(), body: tr.body}.run(ctx)
		probing.Store(false)
		u1, err := usageOf(p.cmd.Process.Pid)
		if err != nil {
			return nil, err
		}
		// Lag counts until the backlog written during the step is loaded.
		catchErr := b.catchUp(ctx, lt, 30*time.Second)
		took, timeouts := pr.take()
		s := step{offered: rate, achieved: res.perSecond() * float64(n), failed: res.failed, maxLag: lt.reset(), probes: took, timeouts: timeouts, u0: u0, u1: u1}
		if catchErr != nil {
			s.maxLag = max(s.maxLag, 30*time.Second)
		}
		steps = append(steps, s)
		fmt.Println("  pipeline", s)
		if !s.sustained() {
			break
		}
		best = &steps[len(steps)-1]
	}
	if sampleErr != nil {
		return nil, sampleErr
	}
	if pr.refused != "" {
		return nil, fmt.Errorf("the collector refused a search probe: %s", pr.refused)
	}
	var notes []string
	for _, s := range steps {
		notes = append(notes, s.String())
	}
	r := row{stage: "pipeline, footfall all, sustained", unit: "events/s", latency: "search accepted → promotion shown, at that rate",
		note: "steps:\n  " + strings.Join(notes, "\n  ")}
	if best != nil {
		r.figure, r.p50, r.p99, r.cores, r.rss = best.achieved, pct(best.probes, 50), pct(best.probes, 99), cores(best.u0, best.u1), best.u1.rss
	}
	rows := []row{r}
	if b.o.soak > 0 && best != nil {
		soak, err := b.soakRun(ctx, p, tr, pr.collector, best.offered/2)
		if err != nil {
			return rows, err
		}
		rows = append(rows, soak)
	}
	return rows, p.stop()
}

// catchUp waits until the loader has committed all the topics hold now.
func (b *bench) catchUp(ctx context.Context, lt *lagTracker, limit time.Duration) error {
	end, err := newest(lt.in, lt.topics)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	for {
		if err := lt.sample(); err != nil {
			return err
		}
		committed, err := kafkaCommitted(lt.in, lt.group, lt.topics)(ctx)
		if err != nil {
			return err
		}
		if committed >= end {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the loader did not catch up within %s", limit)
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

// soakRun holds the pipeline at rate for the soak and samples its RSS.
func (b *bench) soakRun(ctx context.Context, p *proc, tr *traffic, url string, rate float64) (row, error) {
	fmt.Printf("  soak: %s at %s events/s\n", b.o.soak, human(rate))
	sctx, cancel := context.WithCancel(ctx)
	var samples []usage
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sctx.Err() == nil {
			if u, err := usageOf(p.cmd.Process.Pid); err == nil {
				samples = append(samples, u)
			}
			_ = sleep(sctx, 10*time.Second)
		}
	}()
	heapStart := make(chan string, 1)
	if b.o.profile {
		go func() {
			// After the warm-up the RSS figures skip (below).
			if sleep(sctx, b.o.soak/10) == nil {
				heapStart <- heapProfile(sctx, p, b.o.logDir, "soak-heap-start")
			}
		}()
	}
	res := load{url: url, conns: b.o.batchConns, rate: rate / float64(b.o.batch), duration: b.o.soak, header: b.headers(), body: tr.body}.run(ctx)
	if b.o.profile {
		select {
		case start := <-heapStart:
			if end := heapProfile(ctx, p, b.o.logDir, "soak-heap-end"); end != "" && start != "" {
				fmt.Printf("  heap growth over the soak: go tool pprof -top -sample_index=inuse_space -base %s %s\n", start, end)
			}
		default:
		}
	}
	cancel()
	<-done
	if len(samples) < 3 {
		return row{}, fmt.Errorf("soak: too short to sample (%d samples)", len(samples))
	}
	// After the first minute (or the first tenth): the heap has grown to
	// its working size.
	skip := min(len(samples)/10+1, 6)
	var series []string
	lo, hi := samples[skip].rss, samples[skip].rss
	for i, s := range samples {
		if i >= skip {
			lo, hi = min(lo, s.rss), max(hi, s.rss)
		}
		if i%6 == 0 || i == len(samples)-1 {
			series = append(series, fmt.Sprintf("%s %d", s.at.Sub(samples[0].at).Round(time.Second), s.rss>>20))
		}
	}
	flat := "flat within 10 %"
	if float64(hi) > 1.1*float64(lo) {
		flat = "NOT flat within 10 %"
	}
	return row{stage: fmt.Sprintf("pipeline soak, %s at %s events/s", b.o.soak, human(rate)), figure: res.perSecond() * float64(b.o.batch), unit: "events/s",
		cores: cores(samples[0], samples[len(samples)-1]), rss: samples[len(samples)-1].rss,
		note: fmt.Sprintf("RSS after warm-up between %d and %d MiB: %s; MiB over time: %s; %d failed requests", lo>>20, hi>>20, flat, strings.Join(series, ", "), res.failed)}, nil
}
