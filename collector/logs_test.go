package collector

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/footfall/footfall/internal/event"
)

const logsTopic = "footfall.logs"

// otlpLogs is what an OpenTelemetry SDK's OTLP/HTTP JSON exporter sends:
// two records of the checkout service.
const otlpLogs = `{"resourceLogs":[{"resource":{"attributes":[
	{"key":"service.name","value":{"stringValue":"checkout"}},
	{"key":"host.name","value":{"stringValue":"web-1"}}]},
 "scopeLogs":[{"scope":{"name":"app"},"logRecords":[
	{"timeUnixNano":"1764669600123456789","severityNumber":17,"severityText":"ERROR",
	 "body":{"stringValue":"payment declined"},
	 "attributes":[{"key":"order.id","value":{"intValue":"42"}},{"key":"retry","value":{"boolValue":true}},{"key":"host.name","value":{"stringValue":"web-2"}}],
	 "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174"},
	{"observedTimeUnixNano":1764669601000000000,"severityNumber":9,"body":{"kvlistValue":{"values":[{"key":"a","value":{"doubleValue":1.5}}]}}}
 ]}]}]}`

// postLogs sends body to /v1/logs with contentType and the given key as
// the HTTP Basic user ("" sends no credentials).
func postLogs(t *testing.T, c *Collector, key, contentType, body string) (int, logsResponse) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/logs", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", contentType)
	req.RemoteAddr = "203.0.113.77:5555"
	if key != "" {
		req.Header.Set("Authorization", basic(key, ""))
	}
	w := serve(c, req)
	var lr logsResponse
	if err := json.Unmarshal(w.Body.Bytes(), &lr); err != nil {
		t.Fatalf("answer is not JSON: %q", w.Body.String())
	}
	return w.Code, lr
}

const invalidTopic = "footfall.invalid"

// logsOf returns the records on the logs topic, decoded, and their keys.
func logsOf(t *testing.T, p *recordingPublisher) ([]event.LogRecord, []string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var recs []event.LogRecord
	var keys []string
	for _, r := range p.sent {
		if r.Topic != logsTopic {
			if r.Topic != invalidTopic {
				t.Errorf("record on %s, want %s or %s", r.Topic, logsTopic, invalidTopic)
			}
			continue
		}
		var l event.LogRecord
		if err := json.Unmarshal(r.Value, &l); err != nil {
			t.Fatalf("record %q: %v", r.Value, err)
		}
		recs, keys = append(recs, l), append(keys, string(r.Key))
	}
	return recs, keys
}

func TestLogsOTLPJSON(t *testing.T) {
	p := &recordingPublisher{}
	c := newTrustCollector(t, p)
	code, lr := postLogs(t, c, serverKey, "application/json", otlpLogs)
	if code != http.StatusOK || lr.PartialSuccess == nil || lr.PartialSuccess.RejectedLogRecords != 0 || lr.Accepted != 2 {
		t.Fatalf("answer %d %+v", code, lr)
	}
	recs, keys := logsOf(t, p)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	received := recs[0].ReceivedAt
	// Every record gets an id of its own, for the loader to store it once.
	for i, r := range recs {
		if _, err := uuid.Parse(r.ID); err != nil || r.ID == recs[1-i].ID {
			t.Errorf("record %d id %q: want a UUID of its own (%v)", i, r.ID, err)
		}
	}
	want := event.LogRecord{
		V: 1, ID: recs[0].ID, SiteID: "shop", Time: 1764669600123, Service: "checkout",
		SeverityText: "ERROR", SeverityNumber: 17, Body: "payment declined",
		Attributes: map[string]string{"host.name": "web-2", "order.id": "42", "retry": "true"},
		TraceID:    "5b8efff798038103d269b633813fc60c", SpanID: "eee19b7ec3c1b174", ReceivedAt: received,
	}
	if !reflect.DeepEqual(recs[0], want) {
		t.Errorf("record 0:\n got %+v\nwant %+v", recs[0], want)
	}
	// Observed time stands in for a missing time; a number's severity
	// text is its range's name; a body that is no string is JSON text.
	want = event.LogRecord{
		V: 1, ID: recs[1].ID, SiteID: "shop", Time: 1764669601000, Service: "checkout",
		SeverityText: "INFO", SeverityNumber: 9, Body: `{"a":1.5}`,
		Attributes: map[string]string{"host.name": "web-1"}, ReceivedAt: received,
	}
	if !reflect.DeepEqual(recs[1], want) {
		t.Errorf("record 1:\n got %+v\nwant %+v", recs[1], want)
	}
	if keys[0] != "shop:checkout" {
		t.Errorf("key %q, want shop:checkout", keys[0])
	}
	if n := counter(t, c, "footfall_collector_log_records_accepted_total", ""); n != 2 {
		t.Errorf("accepted counter %v, want 2", n)
	}
}

func TestLogsJSONLines(t *testing.T) {
	p := &recordingPublisher{}
	c := newTrustCollector(t, p)
	body := `{"time":"2026-12-02T10:00:00.250Z","service":"worker","severity":"warn","body":"queue slow","attributes":{"queue":"mail","depth":120},"trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174"}

{"time":1764669600500,"service":"worker","body":{"msg":"structured"},"id":"worker-7-000123"}
`
	code, lr := postLogs(t, c, serverKey, "application/x-ndjson", body)
	if code != http.StatusOK || lr.PartialSuccess == nil || lr.Accepted != 2 {
		t.Fatalf("answer %d %+v", code, lr)
	}
	recs, _ := logsOf(t, p)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	r := recs[0]
	if r.Time != 1796205600250 || r.Service != "worker" || r.SeverityText != "warn" || r.SeverityNumber != 13 ||
		r.Body != "queue slow" || !reflect.DeepEqual(r.Attributes, map[string]string{"queue": "mail", "depth": "120"}) ||
		r.TraceID != "5b8efff798038103d269b633813fc60c" || r.SpanID != "eee19b7ec3c1b174" || r.SiteID != "shop" {
		t.Errorf("line 0: %+v", r)
	}
	if _, err := uuid.Parse(r.ID); err != nil {
		t.Errorf("line 0 id %q: want one made for it", r.ID)
	}
	if r := recs[1]; r.ID != "worker-7-000123" || r.Time != 1764669600500 || r.Body != `{"msg":"structured"}` || r.SeverityNumber != 0 || len(r.Attributes) != 0 {
		t.Errorf("line 1: %+v", r)
	}
}

// TestLogsNeedAServerKey: a write key is in every page of the shop; logs
// come from its servers.
func TestLogsNeedAServerKey(t *testing.T) {
	for _, tc := range []struct{ name, key string }{{"none", ""}, {"write key", writeKey}, {"unknown", "sk_guess"}} {
		t.Run(tc.name, func(t *testing.T) {
			p := &recordingPublisher{}
			c := newTrustCollector(t, p)
			code, lr := postLogs(t, c, tc.key, "application/json", otlpLogs)
			if code != http.StatusUnauthorized || lr.Error == "" || p.count() != 0 {
				t.Errorf("answer %d %+v, %d records published", code, lr, p.count())
			}
		})
	}
}

func TestLogsBadInput(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		reason      event.Reason
	}{
		{"malformed OTLP", "application/json", `{"resourceLogs":[`, 400, event.ReasonMalformedJSON},
		{"records not a list", "application/json", `{"resourceLogs":[{"scopeLogs":[{"logRecords":{}}]}]}`, 400, event.ReasonMalformedJSON},
		{"no records", "application/json", `{"resourceLogs":[]}`, 400, event.ReasonEmptyBatch},
		{"blank lines", "application/x-ndjson", "\n\n", 400, event.ReasonEmptyBatch},
		{"other media type", "text/csv", `a,b`, 415, event.ReasonBadEncoding},
		{"over the body limit", "application/x-ndjson", strings.Repeat(`{"body":"x"}`+"\n", 400), 413, event.ReasonBodyTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &recordingPublisher{}
			c := newTrustCollector(t, p)
			code, lr := postLogs(t, c, serverKey, tc.contentType, tc.body)
			if code != tc.status || lr.Error != tc.reason || lr.Detail == "" || p.count() != 0 {
				t.Errorf("answer %d %+v, want %d %s; %d records published", code, lr, tc.status, tc.reason, p.count())
			}
			if n := counter(t, c, "footfall_collector_log_records_rejected_total", tc.reason); n != 1 {
				t.Errorf("rejected{reason=%s} = %v, want 1", tc.reason, n)
			}
		})
	}
}

// TestLogsOneBadRecord: a bad record is refused by index with its reason;
// the good records of its request are stored, and the answer is OTLP's
// partial success.
func TestLogsOneBadRecord(t *testing.T) {
	t.Run("OTLP", func(t *testing.T) {
		p := &recordingPublisher{}
		c := newTrustCollector(t, p)
		body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},"scopeLogs":[{"logRecords":[
			{"body":{"stringValue":"one"}},
			{"body":{"stringValue":"two"},"traceId":"not-hex"},
			{"body":{"stringValue":"three"},"severityNumber":"loud"},
			{"body":{"stringValue":"four"}}]}]}]}`
		code, lr := postLogs(t, c, serverKey, "application/json", body)
		if code != http.StatusOK || lr.Accepted != 2 || lr.PartialSuccess == nil ||
			lr.PartialSuccess.RejectedLogRecords != 2 || !strings.Contains(lr.PartialSuccess.ErrorMessage, "record 1") {
			t.Fatalf("answer %d %+v", code, lr)
		}
		if len(lr.Rejected) != 2 || lr.Rejected[0].Index != 1 || lr.Rejected[1].Index != 2 ||
			lr.Rejected[0].Reason != event.ReasonInvalidField || !strings.Contains(lr.Rejected[0].Detail, "trace id") {
			t.Errorf("rejected %+v", lr.Rejected)
		}
		recs, _ := logsOf(t, p)
		if len(recs) != 2 || recs[0].Body != "one" || recs[1].Body != "four" {
			t.Errorf("stored %+v", recs)
		}
		if n := counter(t, c, "footfall_collector_log_records_rejected_total", event.ReasonInvalidField); n != 2 {
			t.Errorf("rejected{reason=invalid_field_type} = %v, want 2", n)
		}
		// The refused records are kept on the invalid topic as sent, with
		// the reason, as refused events are.
		invalid := p.byTopic(invalidTopic)
		if len(invalid) != 2 || invalid[0]["kind"] != "log" || invalid[0]["reason"] != string(event.ReasonInvalidField) ||
			invalid[0]["site_id"] != "shop" || invalid[0]["raw"].(map[string]any)["traceId"] != "not-hex" ||
			invalid[1]["raw"].(map[string]any)["severityNumber"] != "loud" {
			t.Errorf("invalid topic holds %v", invalid)
		}
	})
	t.Run("JSON lines", func(t *testing.T) {
		p := &recordingPublisher{}
		c := newTrustCollector(t, p)
		body := "{\"body\":\"one\"}\n{not json\n{\"body\":\"three\",\"time\":\"yesterday\"}\n{\"body\":\"four\"}\n" +
			`{"body":"five","id":"` + strings.Repeat("x", 129) + "\"}\n"
		code, lr := postLogs(t, c, serverKey, "application/x-ndjson", body)
		if code != http.StatusOK || lr.Accepted != 2 || lr.PartialSuccess.RejectedLogRecords != 3 {
			t.Fatalf("answer %d %+v", code, lr)
		}
		if len(lr.Rejected) != 3 || lr.Rejected[0].Index != 1 || lr.Rejected[0].Reason != event.ReasonMalformedJSON ||
			lr.Rejected[1].Index != 2 || lr.Rejected[1].Reason != event.ReasonInvalidField ||
			lr.Rejected[2].Index != 4 || !strings.Contains(lr.Rejected[2].Detail, "id is 129 bytes") {
			t.Errorf("rejected %+v", lr.Rejected)
		}
		if recs, _ := logsOf(t, p); len(recs) != 2 || recs[0].Service != unknownService {
			t.Errorf("stored %+v", recs)
		}
		if invalid := p.byTopic(invalidTopic); len(invalid) != 3 || invalid[0]["raw_text"] != "{not json" ||
			invalid[0]["reason"] != string(event.ReasonMalformedJSON) || invalid[1]["raw"].(map[string]any)["time"] != "yesterday" {
			t.Errorf("invalid topic holds %v", invalid)
		}
	})
}

// TestLogsAnswerIsOTLP: the success body is OTLP's, with the int64 as a
// string as proto3's JSON mapping writes it.
func TestLogsAnswerIsOTLP(t *testing.T) {
	c := newTrustCollector(t, &recordingPublisher{})
	req := httptest.NewRequest(http.MethodPost, "/v1/logs", strings.NewReader(otlpLogs))
	req.Header.Set("Authorization", basic(serverKey, ""))
	if w := serve(c, req); w.Code != 200 || !strings.Contains(w.Body.String(), `"partialSuccess":{}`) {
		t.Errorf("answer %d %s", w.Code, w.Body)
	}
	req = httptest.NewRequest(http.MethodPost, "/v1/logs", strings.NewReader(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":99}]}]}]}`))
	req.Header.Set("Authorization", basic(serverKey, ""))
	if w := serve(c, req); w.Code != 200 || !strings.Contains(w.Body.String(), `"rejectedLogRecords":"1"`) {
		t.Errorf("answer %d %s", w.Code, w.Body)
	}
}

// counter is the value of the collector's counter name, of the series
// with that reason label when reason is not "".
func counter(t *testing.T, c *Collector, name string, reason event.Reason) float64 {
	t.Helper()
	mfs, err := c.deps.Ops.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if reason == "" {
				return m.GetCounter().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == string(reason) {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
