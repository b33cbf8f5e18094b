package alerts_test

import (
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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/alerts"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
)

// The integration tests run the worker against the real Kafka and
// PostgreSQL of deploy/local: log records go in on <prefix>.logs as the
// collector writes them, rules go in as an operator adds them (SQL), and
// an httptest.Server plays the webhook receiver.

const site = "shop"

// rig is one test's topic prefix, database, receiver and clock.
type rig struct {
	t         *testing.T
	kc        kafka.Config
	pool      *pgxpool.Pool
	producer  *kafka.Producer
	inspector *kafka.Inspector
	hook      *receiver
	clock     *clock
}

func newRig(t *testing.T) *rig {
	t.Helper()
	kc := testenv.Kafka(t)
	r := &rig{
		t: t, kc: kc, pool: testenv.Postgres(t),
		producer:  testenv.Producer(t, kc, "footfall-alerts-test"),
		inspector: testenv.Inspector(t, kc),
		hook:      newReceiver(t),
		clock:     &clock{},
	}
	return r
}

// config is the default configuration made quick for tests.
func (r *rig) config() alerts.Config {
	cfg := alerts.DefaultConfig()
	cfg.Group = testenv.Name("alerts")
	r.t.Cleanup(func() {
		if err := r.inspector.DeleteGroup(cfg.Group); err != nil {
			r.t.Logf("cleanup: %v", err)
		}
	})
	cfg.Batch.Age = 100 * time.Millisecond
	cfg.RulesRefresh = 50 * time.Millisecond
	cfg.ResolveInterval = 50 * time.Millisecond
	cfg.DeliveryPoll = 25 * time.Millisecond
	cfg.RetryInitial = 20 * time.Millisecond
	cfg.RetryMax = 100 * time.Millisecond
	cfg.Lateness = 2 * time.Second
	return cfg
}

// worker is a running alerts worker.
type worker struct {
	a    *alerts.Alerts
	ops  *server.Ops
	stop func()
}

// start runs a worker until the returned worker's stop (or the test's end).
func (r *rig) start(cfg alerts.Config) *worker {
	r.t.Helper()
	w := r.build(cfg)
	w.stop = testenv.Start(r.t, "alerts", 30*time.Second, w.a.Run)
	return w
}

// build makes a worker without running it.
func (r *rig) build(cfg alerts.Config) *worker {
	r.t.Helper()
	ops := server.NewOps()
	a, err := alerts.New(cfg, alerts.Deps{
		Kafka: r.kc, Pool: r.pool, DeadLetters: r.producer, Ops: ops,
		Log: testenv.Log(r.t).With("component", "alerts"), Grace: 10 * time.Second,
		Now: r.clock.now,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return &worker{a: a, ops: ops}
}

// ruleSpec is an alert_rules row as a test writes it.
type ruleSpec struct {
	name, service, minSeverity, bodyMatch string
	threshold, windowSeconds              int
	path                                  string // of the receiver's URL
}

// addRule inserts a rule as docs/alerts.md tells an operator to, and
// returns its id.
func (r *rig) addRule(s ruleSpec) int64 {
	r.t.Helper()
	var id int64
	err := r.pool.QueryRow(context.Background(), `
		INSERT INTO alert_rules (site_id, name, service, min_severity, body_match, threshold, window_seconds, webhook_url)
		VALUES ($1, $2, $3, severity_number($4), $5, $6, $7, $8)
		RETURNING id`, site, s.name, s.service, s.minSeverity, s.bodyMatch, s.threshold, s.windowSeconds, r.hook.url(s.path)).Scan(&id)
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

// logRecord is a record as the collector writes it.
func logRecord(service string, severity uint8, body string, at time.Time) *event.LogRecord {
	return &event.LogRecord{
		V: event.LogRecordVersion, SiteID: site, Time: at.UnixMilli(), Service: service,
		SeverityText: event.SeverityName(severity), SeverityNumber: severity, Body: body,
		Attributes: map[string]string{}, ReceivedAt: time.Now().UnixMilli(),
	}
}

// publish sends log records to <prefix>.logs as the collector does.
func (r *rig) publish(recs ...*event.LogRecord) {
	r.t.Helper()
	out := make([]kafka.Record, len(recs))
	for i, rec := range recs {
		v, err := json.Marshal(rec)
		if err != nil {
			r.t.Fatal(err)
		}
		out[i] = kafka.Record{Topic: event.LogsTopic(r.kc.TopicPrefix), Key: []byte(rec.Key()), Value: v}
	}
	testenv.PublishRecords(r.t, r.producer, out...)
}

// waitApplied waits until the offsets group stored in PostgreSQL reach
// the end of every partition of the logs topic: every record published
// so far is counted, and the notifications it caused are in the outbox.
func (r *rig) waitApplied(group string) {
	r.t.Helper()
	topic := event.LogsTopic(r.kc.TopicPrefix)
	testenv.Eventually(r.t, 30*time.Second, func() (bool, string) {
		stored := map[int32]int64{}
		rows, err := r.pool.Query(context.Background(), `SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2`, group, topic)
		if err != nil {
			return false, err.Error()
		}
		var p int32
		var off int64
		if _, err := pgx.ForEachRow(rows, []any{&p, &off}, func() error { stored[p] = off; return nil }); err != nil {
			return false, err.Error()
		}
		spans, err := r.inspector.Spans(topic)
		if err != nil {
			return false, err.Error()
		}
		var behind []string
		for _, s := range spans {
			if s.Newest > 0 && stored[s.Partition] != s.Newest {
				behind = append(behind, fmt.Sprintf("%d: stored %d of %d", s.Partition, stored[s.Partition], s.Newest))
			}
		}
		return len(behind) == 0, strings.Join(behind, ", ")
	})
}

// windowCount is the count of a rule's window starting at start.
func (r *rig) windowCount(rule int64, start time.Time) int64 {
	r.t.Helper()
	var n int64
	err := r.pool.QueryRow(context.Background(), `SELECT COALESCE(sum(count), 0) FROM alert_windows WHERE rule_id = $1 AND window_start = $2`, rule, start).Scan(&n)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

// outboxRow is one alert_notifications row.
type outboxRow struct {
	Status      string
	WindowStart time.Time
	Count       int64
	Attempts    int
	Delivered   bool
	GaveUp      bool
	Key         string
}

// outbox returns a rule's notifications in the order they were written.
func (r *rig) outbox(rule int64) []outboxRow {
	r.t.Helper()
	rows, err := r.pool.Query(context.Background(), `
		SELECT status, window_start, count, attempts, delivered_at IS NOT NULL, gave_up_at IS NOT NULL, idempotency_key
		FROM alert_notifications WHERE rule_id = $1 ORDER BY id`, rule)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []outboxRow
	var o outboxRow
	if _, err := pgx.ForEachRow(rows, []any{&o.Status, &o.WindowStart, &o.Count, &o.Attempts, &o.Delivered, &o.GaveUp, &o.Key}, func() error {
		out = append(out, o)
		return nil
	}); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// waitDelivered waits until every notification of rule is delivered or
// given up, and returns them.
func (r *rig) waitDelivered(rule int64, want int) []outboxRow {
	r.t.Helper()
	var rows []outboxRow
	testenv.Eventually(r.t, 30*time.Second, func() (bool, string) {
		rows = r.outbox(rule)
		done := 0
		for _, o := range rows {
			if o.Delivered || o.GaveUp {
				done++
			}
		}
		return len(rows) == want && done == want, fmt.Sprintf("%d notifications, %d finished; want %d: %+v", len(rows), done, want, rows)
	})
	return rows
}

// counter is testenv.Counter of ops's registry.
func counter(t *testing.T, ops *server.Ops, name string, labels map[string]string) float64 {
	t.Helper()
	return testenv.Counter(t, ops.Registry(), name, labels)
}

// waitCounter waits until counter name has grown by at least by from
// its value now: what a background loop does at least by times.
func waitCounter(t *testing.T, ops *server.Ops, name string, labels map[string]string, by float64) {
	t.Helper()
	from := counter(t, ops, name, labels)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		now := counter(t, ops, name, labels)
		return now >= from+by, fmt.Sprintf("%s %v went from %v to %v, want +%v", name, labels, from, now, by)
	})
}

// waitCounterReaches waits until counter name is at least want. The worker
// adds a batch's counts to its metrics just after the batch's transaction
// commits, so they may trail the offsets that waitApplied reads.
func waitCounterReaches(t *testing.T, ops *server.Ops, name string, labels map[string]string, want float64) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		n := counter(t, ops, name, labels)
		return n >= want, fmt.Sprintf("%s %v is %v, want %v", name, labels, n, want)
	})
}

// clock is the worker's wall clock: the real one, moved forward by the
// test.
type clock struct {
	mu    sync.Mutex
	ahead time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.ahead)
}

// set makes the clock read at.
func (c *clock) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ahead = time.Until(at)
}

// request is one POST the receiver took.
type request struct {
	At             time.Time // when the receiver took it
	Path           string
	IdempotencyKey string
	ContentType    string
	Body           []byte
	Webhook        alerts.Webhook
}

// receiver is a webhook receiver answering each path's requests with the
// statuses a test scripts (200 once the script runs out).
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	script map[string][]int
	after  map[string]string // Retry-After sent with path's 429 and 503 answers
	got    []request
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, script: map[string][]int{}, after: map[string]string{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) url(path string) string { return rc.srv.URL + "/" + path }

// answer scripts the statuses of path's next requests.
func (rc *receiver) answer(path string, statuses ...int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.script["/"+path] = statuses
}

// retryAfter makes path's 429 and 503 answers carry Retry-After: v.
func (rc *receiver) retryAfter(path, v string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.after["/"+path] = v
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("receiver: %v", err)
	}
	req := request{At: time.Now(), Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key"), ContentType: r.Header.Get("Content-Type"), Body: body}
	if err := json.Unmarshal(body, &req.Webhook); err != nil {
		rc.t.Errorf("receiver: body is no webhook: %v: %s", err, body)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, req)
	status := http.StatusOK
	if s := rc.script[r.URL.Path]; len(s) > 0 {
		status, rc.script[r.URL.Path] = s[0], s[1:]
	}
	after := rc.after[r.URL.Path]
	rc.mu.Unlock()
	if after != "" && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		w.Header().Set("Retry-After", after)
	}
	w.WriteHeader(status)
}

// requests returns what path received, in order.
func (rc *receiver) requests(path string) []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []request
	for _, r := range rc.got {
		if r.Path == "/"+path {
			out = append(out, r)
		}
	}
	return out
}

// statuses lists the status of each request path received.
func (rc *receiver) statuses(path string) []string {
	var out []string
	for _, r := range rc.requests(path) {
		out = append(out, r.Webhook.Status)
	}
	return out
}

// sortedKeys is for messages.
func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
