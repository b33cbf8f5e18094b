package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

// maxLogRecords is the most log records one request may carry. OTel SDKs
// export 512 at a time by default; the body limit bounds them first.
const maxLogRecords = 5000

// Media types of POST /v1/logs: OTLP/HTTP JSON, or one JSON object a line.
const (
	mediaOTLPJSON  = "application/json"
	mediaJSONLines = "application/x-ndjson"
)

// reasonNeedsServerKey refuses logs sent without a server key: logs come
// from a shop's servers, never from its pages.
const reasonNeedsServerKey event.Reason = "server_key_required"

// logsResponse is the body of every /v1/logs answer. A 200 is OTLP's
// ExportLogsServiceResponse; Rejected and the error fields are Footfall's,
// as /v1/batch answers them, and OTLP clients ignore them.
type logsResponse struct {
	PartialSuccess *partialSuccess   `json:"partialSuccess,omitempty"`
	Accepted       int               `json:"accepted,omitempty"`
	Rejected       []event.Rejection `json:"rejected,omitempty"`
	Error          event.Reason      `json:"error,omitempty"`
	Detail         string            `json:"detail,omitempty"`
}

// partialSuccess is OTLP's ExportLogsPartialSuccess: empty when every
// record was taken. Its int64 is a string, as proto3's JSON mapping has it.
type partialSuccess struct {
	RejectedLogRecords int64  `json:"rejectedLogRecords,omitempty,string"`
	ErrorMessage       string `json:"errorMessage,omitempty"`
}

// logMetrics counts log records apart from events: a chatty service must
// not read as shop traffic.
type logMetrics struct {
	accepted prometheus.Counter
	rejected *prometheus.CounterVec
}

func newLogMetrics(reg prometheus.Registerer) *logMetrics {
	m := &logMetrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_collector_log_records_accepted_total", Help: "Log records stored: acknowledged by Kafka, or spooled while Kafka is away.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_collector_log_records_rejected_total", Help: "Log records or whole /v1/logs requests rejected, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.accepted, m.rejected)
	return m
}

// serveLogs answers POST /v1/logs: OTLP/HTTP JSON or JSON lines, sent with
// a server key. Every record taken is on <prefix>.logs before the answer
// (or in the spool while Kafka is away); a bad record is refused by index
// and the good ones of its request are stored all the same.
func (c *Collector) serveLogs(ctx *gin.Context) {
	now := time.Now()
	src, ok := c.logSource(ctx)
	if !ok {
		return
	}
	media := mediaOTLPJSON
	if ct := ctx.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != mediaOTLPJSON && mt != mediaJSONLines && mt != "application/jsonl") {
			c.failLogs(ctx, http.StatusUnsupportedMediaType, event.ReasonBadEncoding, "Content-Type must be application/json (OTLP) or application/x-ndjson (JSON lines)")
			return
		}
		media = mt
	}
	// readBody knows the event media types only; the logs' is checked above.
	r := *ctx.Request
	r.Header = ctx.Request.Header.Clone()
	r.Header.Del("Content-Type")
	into := bodies.Get().(*bytes.Buffer)
	defer putBody(into)
	body, code, reason, detail := c.readBody(&r, into)
	if reason != "" {
		c.failLogs(ctx, code, reason, detail)
		return
	}
	var recs []logInput
	if media == mediaOTLPJSON {
		var err error
		if recs, err = decodeOTLP(body); err != nil {
			c.failLogs(ctx, http.StatusBadRequest, event.ReasonMalformedJSON, err.Error())
			return
		}
	} else {
		recs = decodeJSONLines(body)
	}
	switch {
	case len(recs) == 0:
		c.failLogs(ctx, http.StatusBadRequest, event.ReasonEmptyBatch, "no log records")
		return
	case len(recs) > maxLogRecords:
		c.failLogs(ctx, http.StatusRequestEntityTooLarge, event.ReasonTooManyEvents, fmt.Sprintf("%d log records, limit %d", len(recs), maxLogRecords))
		return
	}
	if c.overLimit(ctx, src, len(recs)) {
		return
	}
	c.storeLogs(ctx, src.site, recs, now)
}

// storeLogs turns recs into records of the logs topic, and the refused
// ones into records of the invalid topic (as refused events are), stores
// them and answers.
func (c *Collector) storeLogs(ctx *gin.Context, site string, recs []logInput, now time.Time) {
	received := now.UnixMilli()
	topic := event.LogsTopic(c.cfg.TopicPrefix)
	out := make([]kafka.Record, 0, len(recs))
	var rejected []event.Rejection
	for i, in := range recs {
		rec, rej := in.record(site, received)
		var value []byte
		if rej == nil {
			value, _ = json.Marshal(rec) // strings, numbers and a string map: cannot fail
			if len(value) > c.cfg.Limits.MaxEventBytes {
				rej = &event.Rejection{Reason: event.ReasonEventTooLarge, Detail: fmt.Sprintf("record of %d bytes, limit %d", len(value), c.cfg.Limits.MaxEventBytes)}
			}
		}
		if rej != nil {
			rej.Index = i
			rejected = append(rejected, *rej)
			out = append(out, c.invalid("log", site, received, in.raw, rej))
			continue
		}
		out = append(out, kafka.Record{Topic: topic, Key: []byte(rec.Key()), Value: value})
	}
	if err := c.store(ctx.Request.Context(), out); err != nil {
		c.refuse(ctx, err)
		return
	}
	accepted := len(recs) - len(rejected)
	c.logs.accepted.Add(float64(accepted))
	resp := logsResponse{PartialSuccess: &partialSuccess{}, Accepted: accepted, Rejected: rejected}
	if len(rejected) > 0 {
		for _, r := range rejected {
			c.logs.rejected.WithLabelValues(string(r.Reason)).Inc()
		}
		resp.PartialSuccess.RejectedLogRecords = int64(len(rejected))
		resp.PartialSuccess.ErrorMessage = fmt.Sprintf("%d of %d log records rejected; the first, record %d: %s: %s",
			len(rejected), len(recs), rejected[0].Index, rejected[0].Reason, rejected[0].Detail)
	}
	c.answer(ctx, http.StatusOK, resp)
}

// logSource admits a server key only, as the HTTP Basic user name.
func (c *Collector) logSource(ctx *gin.Context) (source, bool) {
	src, status, reason, detail := c.credentials(ctx.Request, "")
	if ctx.GetHeader("Authorization") == "" || (reason == "" && !src.server) {
		status, reason, detail = http.StatusUnauthorized, reasonNeedsServerKey, "logs need a server key as the HTTP Basic user name (empty password)"
	}
	if reason != "" {
		ctx.Header("WWW-Authenticate", `Basic realm="footfall"`)
		c.failLogs(ctx, status, reason, detail)
		return source{}, false
	}
	return src, true
}

func (c *Collector) failLogs(ctx *gin.Context, status int, reason event.Reason, detail string) {
	c.logs.rejected.WithLabelValues(string(reason)).Inc()
	c.answer(ctx, status, logsResponse{Error: reason, Detail: detail})
}
