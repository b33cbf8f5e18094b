package alerts

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestPayloadIsAlertmanagerWebhook(t *testing.T) {
	r := &rule{ID: 7, SiteID: "shop", Name: "payment errors", Service: "checkout", MinSeverity: 17, BodyMatch: "payment", Threshold: 3, Window: time.Minute}
	w := windowOf(time.Date(2026, 12, 2, 10, 0, 30, 0, time.UTC), time.Minute)
	firing := notice{rule: r, status: StatusFiring, win: w, count: 5, episodeStart: w.start, sampleService: "checkout", sampleBody: "payment declined"}
	b, err := firing.payload()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"version": "4", "status": "firing", "receiver": "footfall", "truncatedAlerts": 0.0} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	alerts := got["alerts"].([]any)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1", len(alerts))
	}
	a := alerts[0].(map[string]any)
	labels := a["labels"].(map[string]any)
	for k, want := range map[string]string{"alertname": "payment errors", "site": "shop", "service": "checkout", "severity": "error"} {
		if labels[k] != want {
			t.Errorf("label %s = %v, want %q", k, labels[k], want)
		}
	}
	ann := a["annotations"].(map[string]any)
	if s, _ := ann["summary"].(string); !strings.Contains(s, "5 ERROR+ log records of checkout") || !strings.Contains(s, "threshold 3") || !strings.Contains(s, "60s") {
		t.Errorf("summary %q lacks the count, threshold or window", s)
	}
	if ann["sample_body"] != "payment declined" || ann["count"] != "5" {
		t.Errorf("annotations %v", ann)
	}
	if a["startsAt"] != "2026-12-02T10:00:00Z" || a["endsAt"] != "0001-01-01T00:00:00Z" {
		t.Errorf("startsAt %v endsAt %v, want the window's start and Alertmanager's zero time", a["startsAt"], a["endsAt"])
	}
	if fp, _ := a["fingerprint"].(string); len(fp) != 16 {
		t.Errorf("fingerprint %q, want 16 hex digits", fp)
	}
	if got["groupKey"] != `{}:{alertname="payment errors", service="checkout", severity="error", site="shop"}` {
		t.Errorf("groupKey %v", got["groupKey"])
	}

	// The next window firing and the resolved notice are the same alert:
	// same fingerprint, same startsAt.
	next := firing
	next.win = w.next()
	resolved := notice{rule: r, status: StatusResolved, win: w.next(), count: 1, episodeStart: w.start}
	var n, res Webhook
	for _, c := range []struct {
		n   notice
		out *Webhook
	}{{next, &n}, {resolved, &res}} {
		b, err := c.n.payload()
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, c.out); err != nil {
			t.Fatal(err)
		}
	}
	if n.Alerts[0].Fingerprint != a["fingerprint"] || res.Alerts[0].Fingerprint != a["fingerprint"] {
		t.Errorf("fingerprints %s, %s and %s differ", a["fingerprint"], n.Alerts[0].Fingerprint, res.Alerts[0].Fingerprint)
	}
	if !n.Alerts[0].StartsAt.Equal(w.start) || !res.Alerts[0].StartsAt.Equal(w.start) {
		t.Errorf("startsAt %s and %s, want the run's start %s", n.Alerts[0].StartsAt, res.Alerts[0].StartsAt, w.start)
	}
	if res.Status != "resolved" || !res.Alerts[0].EndsAt.Equal(w.next().end) {
		t.Errorf("resolved: status %s endsAt %s, want resolved at %s", res.Status, res.Alerts[0].EndsAt, w.next().end)
	}
	if firing.idempotencyKey() == next.idempotencyKey() || next.idempotencyKey() == resolved.idempotencyKey() {
		t.Errorf("idempotency keys collide: %s %s %s", firing.idempotencyKey(), next.idempotencyKey(), resolved.idempotencyKey())
	}
	if k := firing.idempotencyKey(); k != "footfall-alert-7-20261202T100000Z-firing" {
		t.Errorf("idempotency key %s", k)
	}
}

func TestAnyServiceRuleHasNoServiceLabel(t *testing.T) {
	r := &rule{ID: 1, SiteID: "shop", Name: "errors", MinSeverity: 17, Threshold: 1, Window: time.Minute}
	n := notice{rule: r, status: StatusFiring, win: windowOf(time.Unix(0, 0), time.Minute)}
	if _, ok := n.labels()["service"]; ok {
		t.Errorf("labels %v: a rule for every service should have no service label", n.labels())
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("héllo", 2); got != "h…" {
		t.Errorf("truncate cut inside a rune: %q", got)
	}
	if got := truncate("short", 10); got != "short" {
		t.Errorf("truncate changed a short string: %q", got)
	}
}

func TestStorable(t *testing.T) {
	if got := storable("a\x00b\xffc"); got != "ab\uFFFDc" {
		t.Errorf("storable = %q, want NUL dropped and the bad byte replaced", got)
	}
}
