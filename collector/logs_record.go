package collector

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/footfall/footfall/internal/event"
)

// unknownService is OpenTelemetry's name for a service that gave none.
const unknownService = "unknown_service"

// DateTime, the logs table's time, holds seconds from 1970 to 2105.
var (
	earliestLog = time.Unix(0, 0)
	latestLog   = time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC)
)

// maxLogIDBytes bounds a sender's record id, as events' ids are bounded.
const maxLogIDBytes = 128

// logInput is one log record as sent, in either format, before it is
// checked.
type logInput struct {
	bad            *event.Rejection // the record could not be decoded
	id             string           // the sender's (JSON lines' "id"); "": one is made
	raw            json.RawMessage  // the record as sent, kept on the invalid topic if refused
	timeNano       uint64           // 0: unknown
	service        string
	severityText   string
	severityNumber int
	body           string
	attributes     map[string]string
	traceID        string
	spanID         string
}

// record checks in and returns what the logs topic carries of it.
func (in *logInput) record(site string, received int64) (*event.LogRecord, *event.Rejection) {
	if in.bad != nil {
		return nil, in.bad
	}
	ms := received
	if in.timeNano != 0 {
		t := time.Unix(0, int64(min(in.timeNano, 1<<63-1)))
		if in.timeNano > 1<<63-1 || t.Before(earliestLog) || t.After(latestLog) {
			return nil, &event.Rejection{Reason: event.ReasonInvalidField, Detail: fmt.Sprintf("time %d ns is outside 1970 to 2105", in.timeNano)}
		}
		ms = t.UnixMilli()
	}
	if in.severityNumber < 0 || in.severityNumber > 24 {
		return nil, &event.Rejection{Reason: event.ReasonInvalidField, Detail: fmt.Sprintf("severity number %d is outside 0 to 24", in.severityNumber)}
	}
	if err := checkHexID("trace id", in.traceID, 16); err != nil {
		return nil, &event.Rejection{Reason: event.ReasonInvalidField, Detail: err.Error()}
	}
	if err := checkHexID("span id", in.spanID, 8); err != nil {
		return nil, &event.Rejection{Reason: event.ReasonInvalidField, Detail: err.Error()}
	}
	id := in.id
	if id == "" {
		id = uuid.Must(uuid.NewV7()).String()
	} else if len(id) > maxLogIDBytes {
		return nil, &event.Rejection{Reason: event.ReasonInvalidField, Detail: fmt.Sprintf("id is %d bytes, more than %d", len(id), maxLogIDBytes)}
	}
	rec := &event.LogRecord{
		V: event.LogRecordVersion, ID: id, SiteID: site, Time: ms, Service: in.service,
		SeverityText: in.severityText, SeverityNumber: uint8(in.severityNumber), Body: in.body, // checked: 0 to 24
		Attributes: in.attributes, TraceID: strings.ToLower(in.traceID), SpanID: strings.ToLower(in.spanID),
		ReceivedAt: received,
	}
	if rec.Service == "" {
		rec.Service = unknownService
	}
	if rec.Attributes == nil {
		rec.Attributes = map[string]string{}
	}
	switch {
	case rec.SeverityText == "" && rec.SeverityNumber > 0:
		rec.SeverityText = event.SeverityName(rec.SeverityNumber)
	case rec.SeverityNumber == 0 && rec.SeverityText != "":
		rec.SeverityNumber = uint8(severityNumberOf(rec.SeverityText))
	}
	return rec, nil
}

// checkHexID accepts an absent id or one of n bytes in hex, as OTLP's JSON
// encoding writes trace and span ids.
func checkHexID(what, id string, n int) error {
	if id == "" {
		return nil
	}
	if b, err := hex.DecodeString(id); err != nil || len(b) != n {
		return fmt.Errorf("%s %q is not %d hex digits", what, id, 2*n)
	}
	return nil
}

// severityNumberOf maps a level name to the first number of its range, as
// OpenTelemetry's log bridges do; an unknown name is 0 (unspecified).
func severityNumberOf(text string) int {
	switch strings.ToUpper(strings.TrimSpace(text)) {
	case "TRACE":
		return 1
	case "DEBUG":
		return 5
	case "INFO", "NOTICE":
		return 9
	case "WARN", "WARNING":
		return 13
	case "ERROR", "ERR":
		return 17
	case "FATAL", "CRITICAL", "CRIT", "PANIC", "EMERGENCY", "ALERT":
		return 21
	}
	return 0
}

// anyValue is OTLP's AnyValue in its JSON encoding.
type anyValue struct {
	StringValue *string         `json:"stringValue"`
	BoolValue   *bool           `json:"boolValue"`
	IntValue    json.RawMessage `json:"intValue"` // a string or a number
	DoubleValue *float64        `json:"doubleValue"`
	BytesValue  *string         `json:"bytesValue"` // base64
	ArrayValue  *struct {
		Values []anyValue `json:"values"`
	} `json:"arrayValue"`
	KvlistValue *struct {
		Values []keyValue `json:"values"`
	} `json:"kvlistValue"`
}

type keyValue struct {
	Key   string   `json:"key"`
	Value anyValue `json:"value"`
}

// String flattens v: a string as it is, anything else as JSON text.
func (v anyValue) String() string {
	if v.StringValue != nil {
		return *v.StringValue
	}
	p := v.plain()
	if p == nil {
		return ""
	}
	b, _ := json.Marshal(p) // plain values only: cannot fail
	return string(b)
}

// plain is v as an ordinary Go value.
func (v anyValue) plain() any {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.BoolValue != nil:
		return *v.BoolValue
	case v.IntValue != nil:
		n, err := strconv.ParseInt(strings.Trim(string(v.IntValue), `"`), 10, 64)
		if err != nil {
			return strings.Trim(string(v.IntValue), `"`)
		}
		return n
	case v.DoubleValue != nil:
		return *v.DoubleValue
	case v.BytesValue != nil:
		return *v.BytesValue
	case v.ArrayValue != nil:
		out := make([]any, len(v.ArrayValue.Values))
		for i, e := range v.ArrayValue.Values {
			out[i] = e.plain()
		}
		return out
	case v.KvlistValue != nil:
		out := make(map[string]any, len(v.KvlistValue.Values))
		for _, kv := range v.KvlistValue.Values {
			out[kv.Key] = kv.Value.plain()
		}
		return out
	}
	return nil
}

// otlpRequest is OTLP's ExportLogsServiceRequest; the records are decoded
// one by one, so that one bad record is refused alone.
type otlpRequest struct {
	ResourceLogs []struct {
		Resource struct {
			Attributes []keyValue `json:"attributes"`
		} `json:"resource"`
		ScopeLogs []struct {
			LogRecords []json.RawMessage `json:"logRecords"`
		} `json:"scopeLogs"`
	} `json:"resourceLogs"`
}

type otlpLogRecord struct {
	TimeUnixNano         json.RawMessage `json:"timeUnixNano"` // a string or a number
	ObservedTimeUnixNano json.RawMessage `json:"observedTimeUnixNano"`
	SeverityNumber       int             `json:"severityNumber"`
	SeverityText         string          `json:"severityText"`
	Body                 anyValue        `json:"body"`
	Attributes           []keyValue      `json:"attributes"`
	TraceID              string          `json:"traceId"`
	SpanID               string          `json:"spanId"`
}

// decodeOTLP returns the log records of an OTLP/HTTP JSON body in order.
// The error is for a body that is not such a request at all.
func decodeOTLP(body []byte) ([]logInput, error) {
	var req otlpRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("not an OTLP logs request: %w", err)
	}
	var out []logInput
	for _, rl := range req.ResourceLogs {
		resource := map[string]string{}
		service := ""
		for _, kv := range rl.Resource.Attributes {
			if kv.Key == "service.name" {
				service = kv.Value.String()
				continue
			}
			resource[kv.Key] = kv.Value.String()
		}
		for _, sl := range rl.ScopeLogs {
			for _, raw := range sl.LogRecords {
				out = append(out, otlpInput(raw, service, resource))
			}
		}
	}
	return out, nil
}

// otlpInput decodes one OTLP log record; its attributes win over its
// resource's.
func otlpInput(raw json.RawMessage, service string, resource map[string]string) logInput {
	var r otlpLogRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return logInput{raw: raw, bad: &event.Rejection{Reason: event.ReasonInvalidField, Detail: "log record: " + err.Error()}}
	}
	in := logInput{
		raw: raw, service: service, severityText: r.SeverityText, severityNumber: r.SeverityNumber,
		body: r.Body.String(), traceID: r.TraceID, spanID: r.SpanID,
		attributes: make(map[string]string, len(resource)+len(r.Attributes)),
	}
	for k, v := range resource {
		in.attributes[k] = v
	}
	for _, kv := range r.Attributes {
		in.attributes[kv.Key] = kv.Value.String()
	}
	var err error
	if in.timeNano, err = nanos(r.TimeUnixNano); err == nil && in.timeNano == 0 {
		in.timeNano, err = nanos(r.ObservedTimeUnixNano)
	}
	if err != nil {
		in.bad = &event.Rejection{Reason: event.ReasonInvalidField, Detail: err.Error()}
	}
	return in
}

// nanos reads OTLP's fixed64 time, a decimal string or a number.
func nanos(raw json.RawMessage) (uint64, error) {
	s := strings.Trim(string(raw), `"`)
	if s == "" || s == "null" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("time %s is not unix nanoseconds", raw)
	}
	return n, nil
}

// jsonLine is one line of a JSON lines body.
type jsonLine struct {
	ID         string                     `json:"id"`   // the sender's, to make a resend harmless
	Time       json.RawMessage            `json:"time"` // RFC 3339, or unix ms
	Service    string                     `json:"service"`
	Severity   string                     `json:"severity"`
	Body       json.RawMessage            `json:"body"`
	Attributes map[string]json.RawMessage `json:"attributes"`
	TraceID    string                     `json:"trace_id"`
	SpanID     string                     `json:"span_id"`
}

// decodeJSONLines returns one record per non-blank line; a line that is
// not a log object is a bad record, not a bad body.
func decodeJSONLines(body []byte) []logInput {
	var out []logInput
	for line := range bytes.Lines(body) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		out = append(out, lineInput(line))
	}
	return out
}

func lineInput(line []byte) logInput {
	var l jsonLine
	if err := json.Unmarshal(line, &l); err != nil {
		return logInput{raw: line, bad: &event.Rejection{Reason: event.ReasonMalformedJSON, Detail: "line: " + err.Error()}}
	}
	in := logInput{
		raw: line, id: l.ID, service: l.Service, severityText: l.Severity, body: flatJSON(l.Body),
		traceID: l.TraceID, spanID: l.SpanID, attributes: make(map[string]string, len(l.Attributes)),
	}
	for k, v := range l.Attributes {
		in.attributes[k] = flatJSON(v)
	}
	t, err := lineTime(l.Time)
	if err != nil {
		in.bad = &event.Rejection{Reason: event.ReasonInvalidField, Detail: err.Error()}
	}
	in.timeNano = t
	return in
}

// flatJSON is a JSON string's text, or any other JSON value's compact text.
func flatJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

var errLineTime = errors.New("time must be RFC 3339 text or unix milliseconds")

// lineTime reads a JSON line's time: RFC 3339 text or unix milliseconds.
func lineTime(raw json.RawMessage) (uint64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || t.Before(earliestLog) || t.After(latestLog) {
			return 0, fmt.Errorf("time %q: %w", s, errLineTime)
		}
		return uint64(t.UnixNano()), nil
	}
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || ms <= 0 || ms > latestLog.UnixMilli() {
		return 0, fmt.Errorf("time %s: %w", raw, errLineTime)
	}
	return uint64(ms) * 1e6, nil
}
