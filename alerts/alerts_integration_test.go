package alerts_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/footfall/footfall/alerts"
	"github.com/footfall/footfall/internal/event"
)

// minuteStart is the start of the minute now is in: records at it and a
// few milliseconds after fall in one 60 s window.
func minuteStart() time.Time { return time.Now().UTC().Truncate(time.Minute) }

// Five ERROR records of checkout about payment in one window, threshold
// 3: one firing notification, with the rule's labels; records of another
// service, of a lower severity or about something else are not counted.
func TestFiresOncePerWindow(t *testing.T) {
	r := newRig(t)
	cfg := r.config()
	w := r.start(cfg)
	rule := r.addRule(ruleSpec{name: "payment errors", service: "checkout", minSeverity: "ERROR", bodyMatch: "Payment", threshold: 3, windowSeconds: 60, path: "hook"})
	waitCounter(t, w.ops, "footfall_alerts_rule_loads_total", map[string]string{"result": "ok"}, 2)

	start := minuteStart()
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	var recs []*event.LogRecord
	for i := range 5 {
		recs = append(recs, logRecord("checkout", 17, fmt.Sprintf("payment declined for order %d", i), at(i)))
	}
	recs[0].Body = "payment declined\x00 (a NUL, which PostgreSQL's text refuses)"
	recs = append(recs,
		logRecord("search", 17, "payment provider unreachable", at(10)), // another service
		logRecord("checkout", 13, "payment slow", at(11)),               // WARN, below ERROR
		logRecord("checkout", 9, "payment ok", at(12)),                  // INFO
		logRecord("checkout", 17, "cart expired", at(13)),               // no "payment"
	)
	r.publish(recs...)
	r.waitApplied(cfg.Group)

	if n := r.windowCount(rule, start); n != 5 {
		t.Errorf("window count %d, want 5 (the checkout errors about payment only)", n)
	}
	rows := r.waitDelivered(rule, 1)
	if rows[0].Status != alerts.StatusFiring || !rows[0].WindowStart.Equal(start) {
		t.Errorf("notification %+v, want firing for the window at %s", rows[0], start)
	}
	got := r.hook.requests("hook")
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1: %v", len(got), r.hook.statuses("hook"))
	}
	req := got[0]
	if req.ContentType != "application/json" || req.IdempotencyKey != rows[0].Key || req.IdempotencyKey == "" {
		t.Errorf("Content-Type %q, Idempotency-Key %q (outbox %q)", req.ContentType, req.IdempotencyKey, rows[0].Key)
	}
	wh := req.Webhook
	if wh.Version != "4" || wh.Status != "firing" || len(wh.Alerts) != 1 {
		t.Fatalf("webhook %+v, want version 4, firing, one alert", wh)
	}
	a := wh.Alerts[0]
	for k, want := range map[string]string{"alertname": "payment errors", "site": site, "service": "checkout", "severity": "error"} {
		if a.Labels[k] != want {
			t.Errorf("label %s = %q, want %q (labels %v)", k, a.Labels[k], want, sortedKeys(a.Labels))
		}
	}
	// The batch that crossed the threshold may have held some of the
	// five or all of them: the count is the window's then.
	if c, _ := strconv.Atoi(a.Annotations["count"]); c < 3 || c > 5 {
		t.Errorf("count annotation %q, want 3 to 5", a.Annotations["count"])
	}
	if a.Annotations["threshold"] != "3" || a.Annotations["window_seconds"] != "60" || a.Annotations["sample_body"] == "" {
		t.Errorf("annotations %v", a.Annotations)
	}
	if !a.StartsAt.Equal(start) || !a.EndsAt.IsZero() || a.Fingerprint == "" {
		t.Errorf("startsAt %s endsAt %s fingerprint %q", a.StartsAt, a.EndsAt, a.Fingerprint)
	}

	// More matching records in the same window: counted, never a second
	// notification.
	r.publish(logRecord("checkout", 21, "payment gateway down", at(20)))
	r.waitApplied(cfg.Group)
	if n := r.windowCount(rule, start); n != 6 {
		t.Errorf("window count %d, want 6", n)
	}
	if rows := r.outbox(rule); len(rows) != 1 {
		t.Errorf("%d notifications after a sixth record, want 1: %+v", len(rows), rows)
	}
	waitCounterReaches(t, w.ops, "footfall_alerts_records_evaluated_total", nil, 10)
	if n := counter(t, w.ops, "footfall_alerts_records_evaluated_total", nil); n != 10 {
		t.Errorf("records evaluated %v, want 10", n)
	}
	if n := counter(t, w.ops, "footfall_alerts_notifications_written_total", map[string]string{"status": "firing"}); n != 1 {
		t.Errorf("firing notifications written %v, want 1", n)
	}
}

// The receiver answers 500 twice, then 200: one delivery after two
// retries, every attempt with the same body and Idempotency-Key. A
// receiver that refuses with a 4xx, or redirects, is given up at once.
func TestDeliveryRetries(t *testing.T) {
	r := newRig(t)
	r.hook.answer("flaky", http.StatusInternalServerError, http.StatusInternalServerError, http.StatusOK)
	r.hook.answer("refuses", http.StatusBadRequest)
	r.hook.answer("moved", http.StatusFound)
	cfg := r.config()
	w := r.start(cfg)
	flaky := r.addRule(ruleSpec{name: "any error", minSeverity: "error", threshold: 1, windowSeconds: 60, path: "flaky"})
	refused := r.addRule(ruleSpec{name: "fatal", minSeverity: "fatal", threshold: 1, windowSeconds: 60, path: "refuses"})
	moved := r.addRule(ruleSpec{name: "fatal elsewhere", minSeverity: "fatal", threshold: 1, windowSeconds: 60, path: "moved"})
	waitCounter(t, w.ops, "footfall_alerts_rule_loads_total", map[string]string{"result": "ok"}, 2)

	r.publish(logRecord("worker", 21, "out of memory", time.Now()))
	r.waitApplied(cfg.Group)

	rows := r.waitDelivered(flaky, 1)
	if !rows[0].Delivered || rows[0].Attempts != 3 {
		t.Errorf("notification %+v, want delivered at the third attempt", rows[0])
	}
	got := r.hook.requests("flaky")
	if len(got) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(got))
	}
	for i, req := range got {
		if req.IdempotencyKey != rows[0].Key || string(req.Body) != string(got[0].Body) {
			t.Errorf("attempt %d: Idempotency-Key %q and body differ from the first attempt's (%q)", i+1, req.IdempotencyKey, rows[0].Key)
		}
	}
	if rows := r.waitDelivered(refused, 1); !rows[0].GaveUp || rows[0].Delivered {
		t.Errorf("notification to a receiver answering 400: %+v, want given up", rows[0])
	}
	if n := len(r.hook.requests("refuses")); n != 1 {
		t.Errorf("a receiver answering 400 got %d requests, want 1", n)
	}
	if rows := r.waitDelivered(moved, 1); !rows[0].GaveUp {
		t.Errorf("notification to a receiver answering 302: %+v, want given up, the redirect not followed", rows[0])
	}
	for outcome, want := range map[string]float64{"ok": 1, "retry": 2, "gave_up": 2} {
		if n := counter(t, w.ops, "footfall_alerts_deliveries_total", map[string]string{"outcome": outcome}); n != want {
			t.Errorf("deliveries %s: %v, want %v", outcome, n, want)
		}
	}
}

// A receiver that answers 429 with Retry-After: 2 is left alone for two
// seconds (the backoff alone would retry after 20 ms), then gets the
// notification once.
func TestDeliveryHonoursRetryAfter(t *testing.T) {
	r := newRig(t)
	r.hook.answer("busy", http.StatusTooManyRequests, http.StatusOK)
	r.hook.retryAfter("busy", "2")
	cfg := r.config()
	w := r.start(cfg)
	rule := r.addRule(ruleSpec{name: "any error", minSeverity: "error", threshold: 1, windowSeconds: 60, path: "busy"})
	waitCounter(t, w.ops, "footfall_alerts_rule_loads_total", map[string]string{"result": "ok"}, 1)

	r.publish(logRecord("worker", 17, "queue stuck", time.Now()))
	r.waitApplied(cfg.Group)
	rows := r.waitDelivered(rule, 1)
	if !rows[0].Delivered || rows[0].Attempts != 2 {
		t.Errorf("notification %+v, want delivered at the second attempt", rows[0])
	}
	got := r.hook.requests("busy")
	if len(got) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(got))
	}
	if gap := got[1].At.Sub(got[0].At); gap < 2*time.Second {
		t.Errorf("second attempt %v after the first, want at least the 2 s the receiver asked for", gap)
	}
}

// A rule that fires in two windows in a row, then has a quiet one: one
// firing notification per window, both the same alert (fingerprint,
// startsAt), then one resolved once the quiet window has ended plus the
// lateness allowance, by the worker's clock, and never before.
func TestResolvesAfterQuietWindow(t *testing.T) {
	r := newRig(t)
	cfg := r.config()
	w := r.start(cfg)
	rule := r.addRule(ruleSpec{name: "slow queries", service: "db", minSeverity: "WARN", bodyMatch: "slow", threshold: 2, windowSeconds: 60, path: "hook"})
	waitCounter(t, w.ops, "footfall_alerts_rule_loads_total", map[string]string{"result": "ok"}, 2)

	first := minuteStart()
	second, quiet := first.Add(time.Minute), first.Add(2*time.Minute)
	r.publish(
		logRecord("db", 13, "slow query 1", first), logRecord("db", 13, "slow query 2", first.Add(time.Second)),
		logRecord("db", 13, "slow query 3", second), logRecord("db", 17, "slow query 4", second.Add(time.Second)),
		logRecord("db", 13, "slow query 5", quiet), // one, below the threshold
	)
	r.waitApplied(cfg.Group)
	rows := r.waitDelivered(rule, 2)
	if rows[0].Status != "firing" || rows[1].Status != "firing" || !rows[0].WindowStart.Equal(first) || !rows[1].WindowStart.Equal(second) {
		t.Fatalf("notifications %+v, want firing for %s and for %s", rows, first, second)
	}

	// A second before the quiet window is settled: nothing resolves.
	settled := quiet.Add(time.Minute + cfg.Lateness)
	r.clock.set(settled.Add(-time.Second))
	waitCounter(t, w.ops, "footfall_alerts_resolve_runs_total", nil, 3)
	if rows := r.outbox(rule); len(rows) != 2 {
		t.Fatalf("notifications before the quiet window settled: %+v, want the two firing ones", rows)
	}

	r.clock.set(settled)
	rows = r.waitDelivered(rule, 3)
	if rows[2].Status != "resolved" || rows[2].Count != 1 {
		t.Errorf("third notification %+v, want resolved with the quiet window's count 1", rows[2])
	}
	waitCounter(t, w.ops, "footfall_alerts_resolve_runs_total", nil, 3)
	if rows := r.outbox(rule); len(rows) != 3 {
		t.Errorf("notifications %+v, want one resolved only", rows)
	}

	got := r.hook.requests("hook")
	if len(got) != 3 {
		t.Fatalf("receiver got %v, want firing, firing, resolved", r.hook.statuses("hook"))
	}
	fp := got[0].Webhook.Alerts[0].Fingerprint
	for i, req := range got {
		a := req.Webhook.Alerts[0]
		if a.Fingerprint != fp || !a.StartsAt.Equal(first) {
			t.Errorf("request %d: fingerprint %s startsAt %s, want %s and the run's start %s", i, a.Fingerprint, a.StartsAt, fp, first)
		}
	}
	if res := got[2].Webhook; res.Status != "resolved" || !res.Alerts[0].EndsAt.Equal(quiet) {
		t.Errorf("resolved notice: status %s endsAt %s, want resolved at %s", res.Status, res.Alerts[0].EndsAt, quiet)
	}

	// The rule fires again later: a new run, starting at its window.
	again := quiet.Add(5 * time.Minute)
	r.publish(logRecord("db", 13, "slow query 6", again), logRecord("db", 13, "slow query 7", again))
	r.waitApplied(cfg.Group)
	rows = r.waitDelivered(rule, 4)
	if a := r.hook.requests("hook")[3].Webhook.Alerts[0]; rows[3].Status != "firing" || !a.StartsAt.Equal(again) {
		t.Errorf("after a resolved run: %+v, startsAt %s; want a firing run starting %s", rows[3], a.StartsAt, again)
	}
}

// A worker stopped half way and restarted, with Kafka's offsets of its
// group gone (as after a crash between the count's commit and Kafka's),
// and the same records handed to a worker again: every record is counted
// once, and the rule fires once.
func TestRedeliveryCountsOnce(t *testing.T) {
	// First, so that it checks last: stopped workers leave no goroutine.
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		goleak.VerifyNone(t, before, goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"))
	})
	r := newRig(t)
	cfg := r.config()
	w := r.start(cfg)
	rule := r.addRule(ruleSpec{name: "errors", service: "api", minSeverity: "ERROR", threshold: 3, windowSeconds: 300, path: "hook"})
	waitCounter(t, w.ops, "footfall_alerts_rule_loads_total", map[string]string{"result": "ok"}, 2)

	start := time.Now().UTC().Truncate(5 * time.Minute)
	r.publish(logRecord("api", 17, "boom 1", start), logRecord("api", 17, "boom 2", start))
	r.waitApplied(cfg.Group)
	w.stop()
	if err := r.inspector.DeleteGroup(cfg.Group); err != nil {
		t.Fatal(err)
	}

	w = r.start(cfg)
	r.publish(logRecord("api", 17, "boom 3", start), logRecord("api", 17, "boom 4", start))
	r.waitApplied(cfg.Group)
	if n := r.windowCount(rule, start); n != 4 {
		t.Errorf("window count %d after a restart that Kafka would have begun at offset 0, want 4", n)
	}
	waitCounterReaches(t, w.ops, "footfall_alerts_records_evaluated_total", nil, 2)
	if n := counter(t, w.ops, "footfall_alerts_records_evaluated_total", nil); n != 2 {
		t.Errorf("the restarted worker evaluated %v records, want the 2 new ones", n)
	}
	r.waitDelivered(rule, 1)
	w.stop()

	// The same records, same offsets, handed over again.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := event.LogsTopic(r.kc.TopicPrefix)
	all, err := r.inspector.ReadAll(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	again := r.build(cfg)
	if err := again.a.HandleBatch(ctx, all[topic]); err != nil {
		t.Fatal(err)
	}
	if n := r.windowCount(rule, start); n != 4 {
		t.Errorf("window count %d after the records came again, want 4", n)
	}
	if rows := r.outbox(rule); len(rows) != 1 {
		t.Errorf("notifications %+v, want the one firing", rows)
	}
	if n := counter(t, again.ops, "footfall_alerts_records_skipped_total", map[string]string{"reason": "already_applied"}); n != 4 {
		t.Errorf("records skipped as already applied: %v, want 4", n)
	}
	if got := r.hook.requests("hook"); len(got) != 1 {
		t.Errorf("receiver got %d requests, want 1", len(got))
	}
}

// Raising a rule's threshold applies to the running worker: the window
// that would have fired under the old one does not, and fires once it
// reaches the new one.
func TestRuleEditAppliesWithoutRestart(t *testing.T) {
	r := newRig(t)
	cfg := r.config()
	w := r.start(cfg)
	loads := map[string]string{"result": "ok"}
	rule := r.addRule(ruleSpec{name: "timeouts", minSeverity: "WARN", bodyMatch: "timeout", threshold: 3, windowSeconds: 600, path: "hook"})
	waitCounter(t, w.ops, "footfall_alerts_rule_loads_total", loads, 2)

	start := time.Now().UTC().Truncate(10 * time.Minute)
	r.publish(logRecord("api", 13, "upstream timeout", start), logRecord("web", 13, "read timeout", start))
	r.waitApplied(cfg.Group)

	if _, err := r.pool.Exec(context.Background(), `UPDATE alert_rules SET threshold = 5, updated_at = now() WHERE id = $1`, rule); err != nil {
		t.Fatal(err)
	}
	waitCounter(t, w.ops, "footfall_alerts_rule_loads_total", loads, 2)
	r.publish(logRecord("api", 13, "upstream timeout", start), logRecord("api", 13, "upstream timeout", start))
	r.waitApplied(cfg.Group)
	if n := r.windowCount(rule, start); n != 4 {
		t.Errorf("window count %d, want 4", n)
	}
	if rows := r.outbox(rule); len(rows) != 0 {
		t.Fatalf("notifications %+v at 4 records, threshold raised to 5: want none", rows)
	}

	r.publish(logRecord("api", 17, "upstream timeout", start))
	r.waitApplied(cfg.Group)
	if rows := r.waitDelivered(rule, 1); rows[0].Count != 5 {
		t.Errorf("notification %+v, want firing at 5", rows[0])
	}
}

// The rules table takes severities by name and refuses, naming the
// constraint, what could never work.
func TestRuleTableRefusesWhatCannotWork(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for name, want := range map[string]int{"trace": 1, "Debug": 5, "INFO": 9, "warning": 13, "error": 17, "critical": 21} {
		var got *int
		if err := r.pool.QueryRow(ctx, `SELECT severity_number($1)`, name).Scan(&got); err != nil || got == nil || *got != want {
			t.Errorf("severity_number(%q) = %v (%v), want %d", name, got, err, want)
		}
		if n, err := alerts.ParseSeverity(name); err != nil || int(n) != want {
			t.Errorf("ParseSeverity(%q) = %d (%v), the SQL function says %d", name, n, err, want)
		}
	}
	insert := `INSERT INTO alert_rules (site_id, name, min_severity, threshold, window_seconds, webhook_url) VALUES ($1, $2, $3, $4, $5, $6)`
	for _, c := range []struct {
		why  string
		args []any
		want string // in the error
	}{
		{"no site", []any{"", "r", 17, 1, 60, "https://h.example/x"}, "alert_rules_site_id_check"},
		{"severity 25", []any{site, "r", 25, 1, 60, "https://h.example/x"}, "alert_rules_min_severity_check"},
		{"threshold 0", []any{site, "r", 17, 0, 60, "https://h.example/x"}, "alert_rules_threshold_check"},
		{"a window over a day", []any{site, "r", 17, 1, 86401, "https://h.example/x"}, "alert_rules_window_seconds_check"},
		{"a URL that is no http", []any{site, "r", 17, 1, 60, "ftp://h.example/x"}, "alert_rules_webhook_url_check"},
	} {
		_, err := r.pool.Exec(ctx, insert, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", c.why, err, c.want)
		}
	}
	_, err := r.pool.Exec(ctx, `INSERT INTO alert_rules (site_id, name, min_severity, threshold, window_seconds, webhook_url)
		VALUES ($1, 'r', severity_number('loud'), 1, 60, 'https://h.example/x')`, site)
	if err == nil || !strings.Contains(err.Error(), `"min_severity"`) {
		t.Errorf("an unknown severity name: %v, want min_severity refused", err)
	}
	if _, err := r.pool.Exec(ctx, insert, site, "ok", 17, 1, 60, "HTTPS://h.example/x"); err != nil {
		t.Errorf("a good rule: %v", err)
	}
}

// A receiver down for longer than --alerts-delivery-max-age: the
// notification is retried until then, and given up, counted.
func TestDeliveryGivesUpWhenOld(t *testing.T) {
	r := newRig(t)
	down := make([]int, 1000)
	for i := range down {
		down[i] = http.StatusServiceUnavailable
	}
	r.hook.answer("down", down...)
	cfg := r.config()
	w := r.start(cfg)
	// A day's window: moving the clock hours ahead leaves the rule firing,
	// with no resolved notice to deliver.
	rule := r.addRule(ruleSpec{name: "errors", minSeverity: "error", threshold: 1, windowSeconds: 86400, path: "down"})
	waitCounter(t, w.ops, "footfall_alerts_rule_loads_total", map[string]string{"result": "ok"}, 2)

	r.publish(logRecord("api", 17, "boom", time.Now()))
	waitCounter(t, w.ops, "footfall_alerts_deliveries_total", map[string]string{"outcome": "retry"}, 2)
	if rows := r.outbox(rule); len(rows) != 1 || rows[0].GaveUp || rows[0].Delivered {
		t.Fatalf("notifications %+v, want one still being retried", rows)
	}
	r.clock.set(time.Now().Add(cfg.DeliveryMaxAge + time.Minute))
	if rows := r.waitDelivered(rule, 1); !rows[0].GaveUp {
		t.Errorf("notification %+v, want given up", rows[0])
	}
	if n := counter(t, w.ops, "footfall_alerts_deliveries_total", map[string]string{"outcome": "gave_up"}); n != 1 {
		t.Errorf("deliveries gave_up: %v, want 1", n)
	}
}
