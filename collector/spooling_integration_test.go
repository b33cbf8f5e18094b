package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/footfall/footfall/collector/spool"
	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/loader"
)

// The spool tests take Kafka away from one collector, never from the
// shared broker: the collector's producer reaches Kafka through a
// testenv.Forwarder that the test pauses and resumes.

// spooledCollector is a liveCollector whose producer goes through fwd and
// whose batches go to a spool in a temporary directory when Kafka does not
// take them in time; its drainer runs until the test ends.
type spooledCollector struct {
	*liveCollector
	fwd *testenv.Forwarder
	sp  *spool.Spool
}

// newSpooledCollector builds it with Kafka reachable (kafkaUp) or not, and
// spool settings from cfg (Dir is filled in).
func newSpooledCollector(t *testing.T, cfg spool.Config, kafkaUp bool) *spooledCollector {
	t.Helper()
	kc := testenv.Kafka(t)
	fwd := testenv.NewKafkaForwarder(t, kc.Brokers[0])
	fwd.Start()
	through := kc
	through.Brokers = config.StringList{fwd.Addr}
	var producer *kafka.Producer
	if kafkaUp {
		producer = testenv.Producer(t, through, "footfall-collector-spool-test")
	} else {
		fwd.Pause()
		var err error
		if producer, err = kafka.NewProducer(through, "footfall-collector-spool-test", testenv.Log(t)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := producer.Close(); err != nil {
				t.Errorf("close producer: %v", err)
			}
		})
	}

	ops := server.NewOps()
	cfg.Dir = t.TempDir()
	sp, err := spool.Open(cfg, ops.Registry(), testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the listener, before the producer, as internal/app does
		if err := sp.Close(); err != nil {
			t.Errorf("close spool: %v", err)
		}
	})

	ccfg := DefaultConfig()
	ccfg.Sites = Sites{liveKey: liveSite}
	ccfg.TopicPrefix = kc.TopicPrefix
	ccfg.TrustedProxies = []string{"127.0.0.1/32"}
	c, err := New(ccfg, Deps{Publisher: producer, Spool: sp, Ops: ops, Log: testenv.Log(t)})
	if err != nil {
		t.Fatal(err)
	}
	ops.AddCheck("kafka", c.readiness(producer.Ready)) // as the module does
	srv := httptest.NewServer(server.Mux(ops, c.Handler(), false))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-ran:
			if err != nil {
				t.Errorf("collector Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("collector Run did not return 10 s after its context ended")
		}
	})
	return &spooledCollector{
		liveCollector: &liveCollector{t: t, srv: srv, kc: kc, probe: newKafkaProbe(t, kc)},
		fwd:           fwd, sp: sp,
	}
}

// ready is what /readyz answers now.
func (sc *spooledCollector) ready() (int, string) {
	sc.t.Helper()
	res, err := sc.srv.Client().Get(sc.srv.URL + "/readyz")
	if err != nil {
		sc.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		sc.t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// sent is one batch a sender posted and how it was answered.
type sent struct {
	ids    []string
	status int
	took   time.Duration
	reason string
	retry  string // Retry-After
}

// visitorBatch is batch seq of visitor anon: n pageviews whose ts is
// seq*n + i, so that a visitor's events can be put in sending order.
func visitorBatch(anon string, seq, n int) (body []byte, ids []string) {
	events := make([]string, n)
	ids = make([]string, n)
	for i := range events {
		ids[i] = testenv.UUID()
		events[i] = fmt.Sprintf(`{"id":%q,"type":"pageview","ts":%d,"anonymous_id":%q,"page":{"url":"https://shop.example/p/%d","path":"/p/%d","title":"Product"}}`,
			ids[i], 1700000000000+int64(seq*n+i), anon, seq, seq)
	}
	return batchOf(liveKey, events...), ids
}

// postBatch posts body as the beacon does; it does not fail the test, so
// that senders may call it from their own goroutines.
func postBatch(client *http.Client, url string, body []byte) (sent, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/v1/batch", bytes.NewReader(body))
	if err != nil {
		return sent{}, err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.Header.Set("User-Agent", liveUA)
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return sent{}, err
	}
	defer func() { _ = res.Body.Close() }()
	var br batchResponse
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return sent{}, err
	}
	if err := json.Unmarshal(b, &br); err != nil {
		return sent{}, fmt.Errorf("answer %d is not JSON: %q", res.StatusCode, b)
	}
	return sent{status: res.StatusCode, took: time.Since(start), reason: string(br.Error), retry: res.Header.Get("Retry-After")}, nil
}

// inKafka counts, by event id, the pageviews the topic holds now, and
// checks that each visitor's first copies are in the order sent: ts grows
// along each partition, per visitor. disorder describes each first copy
// found after a later event of its visitor.
func (sc *spooledCollector) inKafka() (copies map[string]int, disorder []string) {
	sc.t.Helper()
	copies = map[string]int{}
	last := map[string]float64{} // visitor -> last first-copy ts
	for _, r := range sc.probe.snapshot()[sc.kc.TopicPrefix+".pageview"] {
		id, _ := r.value["id"].(string)
		copies[id]++
		if copies[id] > 1 {
			continue
		}
		anon, _ := r.value["anonymous_id"].(string)
		ts, _ := r.value["ts"].(float64)
		if ts < last[anon] {
			disorder = append(disorder, fmt.Sprintf("%s (ts %.0f after %.0f, at %d@%d, appended %s)",
				id, ts, last[anon], r.Partition, r.Offset, r.Timestamp.Format("15:04:05.000")))
		}
		last[anon] = ts
	}
	return copies, disorder
}

// TestIntegrationKafkaOutageUnderLoad: 32 senders post batches while
// Kafka is taken away from the collector for 20 s. Every batch is answered
// 2xx within a second (the spool has room throughout); afterwards every
// event answered for is in Kafka, each visitor's in the order sent.
// Duplicates are allowed and counted: a publish that timed out at
// --collector-spool-after may still be delivered by the producer, beside
// its spooled copy; consumers deduplicate by event id.
func TestIntegrationKafkaOutageUnderLoad(t *testing.T) {
	sc := newSpooledCollector(t, spool.DefaultConfig(), true)
	const (
		senders  = 32
		perBatch = 5
		every    = 50 * time.Millisecond // per sender: 640 batches/s offered in all
		before   = 2 * time.Second
		outage   = 20 * time.Second
		after    = 3 * time.Second
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	results := make([][]sent, senders)
	failures := make(chan error, senders)
	for s := range senders {
		wg.Go(func() {
			anon := fmt.Sprintf("outage-visitor-%02d", s)
			tick := time.NewTicker(every)
			defer tick.Stop()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				body, ids := visitorBatch(anon, seq, perBatch)
				r, err := postBatch(client, sc.srv.URL, body)
				if err != nil {
					failures <- fmt.Errorf("sender %d: %w", s, err)
					return
				}
				r.ids = ids
				results[s] = append(results[s], r)
			}
		})
	}

	phase := func(what string, d time.Duration) {
		t.Logf("%s: %s for %s", time.Now().Format("15:04:05.000"), what, d.Round(time.Millisecond))
		select {
		case <-time.After(d):
		case err := <-failures:
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
	}
	phase("Kafka up", before)
	sc.fwd.Pause()
	outageStart := time.Now()
	phase("Kafka away", outage/4)
	code, body := sc.ready()
	if code != http.StatusOK || !strings.Contains(body, `"degraded"`) || !strings.Contains(body, "spool") {
		t.Errorf("/readyz during the outage: %d %s; want 200, degraded, naming the spool", code, body)
	}
	spooling := sc.metric("footfall_collector_spool_records")
	phase("Kafka away", outage-time.Since(outageStart))
	sc.fwd.Resume()
	backAt := time.Now()
	phase("Kafka back", after)
	close(stop)
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Fatal(err)
	}

	// The spool drains once Kafka answers.
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		u := sc.sp.Usage()
		return u.Records == 0, fmt.Sprintf("the spool still holds %d records (%d bytes)", u.Records, u.Bytes)
	})
	drained := time.Since(backAt)
	code, body = sc.ready()
	if code != http.StatusOK || body != `{"status":"ready"}`+"\n" {
		t.Errorf("/readyz once drained: %d %s; want 200 ready", code, body)
	}

	var (
		batches, answered, refused, slow int
		slowest                          time.Duration
		want                             []string
		reasons                          = map[string]int{}
	)
	for _, rs := range results {
		for _, r := range rs {
			batches++
			slowest = max(slowest, r.took)
			if r.took > time.Second {
				slow++
			}
			switch {
			case r.status == http.StatusOK:
				answered++
				want = append(want, r.ids...)
			default:
				refused++
				reasons[fmt.Sprintf("%d %s", r.status, r.reason)]++
			}
		}
	}
	if refused > 0 {
		t.Errorf("%d of %d batches were not answered 200 while the spool had room: %v", refused, batches, reasons)
	}
	if slow > 0 {
		t.Errorf("%d batches took over 1 s to be answered; the slowest %s", slow, slowest)
	}
	if spooling == 0 {
		t.Errorf("footfall_collector_spool_records was 0 a quarter into the outage: nothing was spooled")
	}
	appended := sc.metric("footfall_collector_spool_appended_total")
	if got := sc.metric("footfall_collector_spool_drained_total"); got != appended {
		t.Errorf("spool drained %v records of the %v appended", got, appended)
	}

	copies, disorder := sc.inKafka()
	var missing []string
	dups := 0
	for _, id := range want {
		switch n := copies[id]; {
		case n == 0:
			missing = append(missing, id)
		case n > 1:
			dups += n - 1
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d of %d events answered 200 are not in Kafka, e.g. %v", len(missing), len(want), missing[:min(len(missing), 5)])
	}
	if len(disorder) > 0 {
		t.Errorf("%d events reached Kafka after an event their visitor sent later, e.g. %v", len(disorder), disorder[:min(len(disorder), 5)])
	}
	t.Logf("%d batches (%d events) answered 200 by %d senders, slowest answer %s; %v records spooled, drained %s after Kafka came back; "+
		"Kafka holds %d distinct events of them, %d duplicate copies",
		answered, len(want), senders, slowest.Round(time.Millisecond), appended, drained.Round(time.Millisecond), len(want)-len(missing), dups)

	// Downstream, what a user counts: the loader puts every event answered
	// 200 into ClickHouse exactly once, the spool's copies and sarama's
	// retried ones notwithstanding.
	rows, distinct := loadIntoClickHouse(t, sc.kc, len(want))
	if rows != uint64(len(want)) || distinct != uint64(len(want)) {
		t.Errorf("ClickHouse holds %d rows, %d distinct ids; want each of the %d events answered 200 once", rows, distinct, len(want))
	}
	t.Logf("ClickHouse: %d rows, %d distinct events", rows, distinct)
}

// loadIntoClickHouse runs a loader over the test's topics into a fresh
// ClickHouse database until it holds want distinct events (or 90 s pass),
// and returns its rows and distinct ids.
func loadIntoClickHouse(t *testing.T, kc kafka.Config, want int) (rows, distinct uint64) {
	t.Helper()
	_, conn := testenv.ClickHouse(t)
	cfg := loader.DefaultConfig()
	cfg.Group = testenv.Name("collector-outage")
	cfg.Batch = kafka.BatchPolicy{Count: 20000, Bytes: 16 << 20, Age: time.Second}
	inspector := testenv.Inspector(t, kc)
	t.Cleanup(func() {
		if err := inspector.DeleteGroup(cfg.Group); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	l, err := loader.New(cfg, loader.Deps{
		Kafka: kc, Sink: loader.NewClickHouse(clickhouse.ClientOf(conn)), DeadLetters: testenv.Producer(t, kc, "footfall-outage-dead-letters"),
		Ops: server.NewOps(), Log: testenv.Log(t).With("component", "loader"), Grace: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer testenv.Start(t, "loader", 30*time.Second, l.Run)()
	testenv.Eventually(t, 90*time.Second, func() (bool, string) {
		if err := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(id) FROM events").Scan(&rows, &distinct); err != nil {
			return false, err.Error()
		}
		return distinct >= uint64(want), fmt.Sprintf("%d rows, %d distinct of %d", rows, distinct, want)
	})
	return rows, distinct
}

// TestIntegrationSpoolFullIs503UntilKafkaReturns: with Kafka away and a
// small spool, batches are answered 200 until the spool is full, then 503
// with Retry-After and the reason, counted, and /readyz turns 503. Once
// Kafka is back the spool drains, batches are answered 200 again, and
// every event answered 200 is in Kafka.
func TestIntegrationSpoolFullIs503UntilKafkaReturns(t *testing.T) {
	cfg := spool.DefaultConfig()
	cfg.MaxBytes, cfg.SegmentBytes = 64<<10, 16<<10
	sc := newSpooledCollector(t, cfg, false)
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()

	var want []string
	var full sent
	for seq := 0; ; seq++ {
		if seq == 200 {
			t.Fatalf("200 batches answered 200 by a spool of %d bytes with Kafka away", cfg.MaxBytes)
		}
		body, ids := visitorBatch("full-visitor", seq, 5)
		r, err := postBatch(client, sc.srv.URL, body)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusOK {
			full = r
			break
		}
		want = append(want, ids...)
	}
	if full.status != http.StatusServiceUnavailable || full.reason != string(reasonSpoolFull) || full.retry != "5" || full.took > time.Second {
		t.Fatalf("with the spool full: %d %q Retry-After %q after %s; want 503 spool_full, Retry-After 5, within 1 s",
			full.status, full.reason, full.retry, full.took)
	}
	if got := sc.metric(`footfall_collector_batches_refused_total{reason="spool_full"}`); got != 1 {
		t.Errorf(`footfall_collector_batches_refused_total{reason="spool_full"} = %v, want 1`, got)
	}
	if code, body := sc.ready(); code != http.StatusServiceUnavailable || !strings.Contains(body, "spool is full") {
		t.Errorf("/readyz with the spool full: %d %s; want 503 naming the full spool", code, body)
	}

	before := len(want)
	sc.fwd.Resume()
	var seq = 1000
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		body, ids := visitorBatch("full-visitor", seq, 5)
		seq++
		r, err := postBatch(client, sc.srv.URL, body)
		if err != nil {
			t.Fatal(err)
		}
		if r.status == http.StatusOK {
			want = append(want, ids...)
		}
		return r.status == http.StatusOK, fmt.Sprintf("after Kafka came back: %d %s", r.status, r.reason)
	})
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		u := sc.sp.Usage()
		return u.Records == 0, fmt.Sprintf("the spool still holds %d records", u.Records)
	})
	copies, disorder := sc.inKafka()
	for _, id := range want {
		if copies[id] == 0 {
			t.Errorf("event %s answered 200 is not in Kafka", id)
		}
	}
	if len(disorder) > 0 {
		t.Errorf("%d events reached Kafka after an event sent later, e.g. %v", len(disorder), disorder[:min(len(disorder), 5)])
	}
	t.Logf("%d events answered 200 before the spool was full, %d after Kafka came back; all in Kafka", before, len(want)-before)
}
