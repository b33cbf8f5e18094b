package alerts

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"

	"github.com/footfall/footfall/internal/event"
)

// Notification statuses, as Alertmanager names them.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// sampleLimit bounds the sample body a notification carries: chat
// receivers cut long messages anyway.
const sampleLimit = 1024

// Webhook is the JSON body a notification POSTs: Alertmanager's webhook
// format, version 4 (prometheus.io/docs/alerting/latest/configuration/
// #webhook_config), so receivers written for Alertmanager (Slack and
// Teams bridges, PagerDuty's and Opsgenie's Prometheus integrations) take
// Footfall's alerts unchanged. One notification carries one alert. The
// types mirror alertmanager's template.Data; that module is not imported
// for two structs.
type Webhook struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []WebhookAlert    `json:"alerts"`
}

// WebhookAlert is one alert of a Webhook.
type WebhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"` // the zero time while firing, as Alertmanager sends it
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// notice is what one outbox row says, before it becomes a Webhook.
type notice struct {
	rule   *rule
	status string
	// win is the window the row is about: the one that fired, or for a
	// resolved notice the last one that did.
	win   window
	count int64 // matching records in win; for resolved, in the window after it
	// episodeStart is the start of the first window of the run of firing
	// windows: every notice of one run has the same startsAt.
	episodeStart  time.Time
	sampleService string
	sampleBody    string
}

// idempotencyKey is the Idempotency-Key header of n's every attempt: the
// rule, the window and the status, so a receiver can drop a redelivery.
func (n notice) idempotencyKey() string {
	return fmt.Sprintf("footfall-alert-%d-%s-%s", n.rule.ID, n.win.start.UTC().Format("20060102T150405Z"), n.status)
}

// labels are the alert's identity: the same for every notice of a rule,
// so its fingerprint is stable and a receiver threads them. A rule for
// every service has no service label (an empty label is no label to
// Alertmanager).
func (n notice) labels() map[string]string {
	l := map[string]string{
		"alertname": n.rule.Name,
		"site":      n.rule.SiteID,
		"severity":  strings.ToLower(event.SeverityName(n.rule.MinSeverity)),
	}
	if n.rule.Service != "" {
		l["service"] = n.rule.Service
	}
	return l
}

// fingerprint is Alertmanager's: the FNV-1a hash of the sorted labels,
// from prometheus/common's model, which Alertmanager itself uses.
func fingerprint(labels map[string]string) string {
	ls := make(model.LabelSet, len(labels))
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.Fingerprint().String()
}

// what says in words which records the rule counts.
func (r *rule) what() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s+ log records", event.SeverityName(r.MinSeverity))
	if r.Service != "" {
		fmt.Fprintf(&b, " of %s", r.Service)
	}
	if r.BodyMatch != "" {
		fmt.Fprintf(&b, " matching %q", r.BodyMatch)
	}
	return b.String()
}

// webhook builds n's body.
func (n notice) webhook() Webhook {
	r := n.rule
	labels := n.labels()
	// The annotations describe the window the count is of: the one that
	// fired, or for a resolved notice the quiet one after the last that did.
	shown := n.win
	if n.status == StatusResolved {
		shown = n.win.next()
	}
	secs := int64(shown.size() / time.Second)
	span := fmt.Sprintf("in %ds (threshold %d), window %s to %s", secs, r.Threshold,
		shown.start.UTC().Format("15:04:05"), shown.end.UTC().Format("15:04:05 MST"))
	ann := map[string]string{
		"count":          strconv.FormatInt(n.count, 10),
		"threshold":      strconv.FormatInt(r.Threshold, 10),
		"window_seconds": strconv.FormatInt(secs, 10),
		"window_start":   shown.start.UTC().Format(time.RFC3339),
		"window_end":     shown.end.UTC().Format(time.RFC3339),
		"rule_id":        strconv.FormatInt(r.ID, 10),
	}
	a := WebhookAlert{Status: n.status, Labels: labels, StartsAt: n.episodeStart.UTC(), Fingerprint: fingerprint(labels)}
	switch n.status {
	case StatusFiring:
		ann["summary"] = fmt.Sprintf("%d %s %s", n.count, r.what(), span)
		if n.sampleBody != "" || n.sampleService != "" {
			ann["sample_body"] = truncate(n.sampleBody, sampleLimit)
			ann["sample_service"] = n.sampleService
		}
	case StatusResolved:
		ann["summary"] = fmt.Sprintf("resolved: %d %s %s", n.count, r.what(), span)
		a.EndsAt = n.win.end.UTC() // when the last window that fired ended
	}
	a.Annotations = ann
	return Webhook{
		Version: "4", GroupKey: groupKey(labels), Status: n.status, Receiver: "footfall",
		GroupLabels: labels, CommonLabels: labels, CommonAnnotations: ann,
		Alerts: []WebhookAlert{a},
	}
}

// groupKey is Alertmanager's form: the route ("{}", the root) and the
// group's labels, sorted.
func groupKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, labels[k])
	}
	return "{}:{" + strings.Join(parts, ", ") + "}"
}

// payload is n's body as JSON.
func (n notice) payload() ([]byte, error) {
	b, err := json.Marshal(n.webhook())
	if err != nil {
		return nil, fmt.Errorf("encode alert %d %s: %w", n.rule.ID, n.status, err)
	}
	return b, nil
}

// truncate cuts s to at most limit bytes on a rune boundary.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
