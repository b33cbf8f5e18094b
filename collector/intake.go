package collector

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/segment"
	"github.com/footfall/footfall/internal/useragent"
)

// maxInflation bounds how far a gzip body may expand, so a small
// compressed request cannot become a huge one.
const maxInflation = 8

// stampedBytes is about what the collector adds to an event it accepts
// (site, received_at, user agent and what is derived from it, the key):
// room reserved per event so that a request's records rarely outgrow
// their first buffer.
const stampedBytes = 400

// retryAfter is what a client is told to wait when neither Kafka nor the
// spool takes its batch.
const retryAfter = 5 * time.Second

// batchResponse is the body of every /v1/batch answer.
type batchResponse struct {
	Accepted int               `json:"accepted"`
	Rejected []event.Rejection `json:"rejected,omitempty"`
	Error    event.Reason      `json:"error,omitempty"`
	Detail   string            `json:"detail,omitempty"`
}

// invalidRecord is what footfall.invalid keeps of a rejected event.
type invalidRecord struct {
	Kind       string          `json:"kind,omitempty"` // "log" for a log record; absent for an event
	Reason     event.Reason    `json:"reason"`
	Detail     string          `json:"detail,omitempty"`
	SiteID     string          `json:"site_id"`
	ReceivedAt int64           `json:"received_at"`
	Raw        json.RawMessage `json:"raw,omitempty"`
	RawText    string          `json:"raw_text,omitempty"`
}

// serveBatch answers 200 when every event was accepted. When some were
// rejected it answers 400 listing each rejected event's index and reason;
// the accepted events of that batch are stored all the same (in Kafka, or
// in the spool while Kafka is away), and a resend is harmless because
// events are deduplicated by id. A body in Segment's shape ("batch"
// rather than "site" and "events") is Segment's batch call (segment.go).
func (c *Collector) serveBatch(ctx *gin.Context) {
	now := time.Now()
	into := bodies.Get().(*bytes.Buffer)
	defer putBody(into)
	body, code, reason, detail := c.readBody(ctx.Request, into)
	if reason != "" {
		c.fail(ctx, code, reason, detail)
		return
	}
	b, err := event.DecodeBatch(body)
	if err != nil || b.Site == "" && b.Events == nil {
		if req, ok, _ := segment.DecodeBatch(body); ok {
			c.serveSegment(ctx, req, now)
			return
		}
	}
	if err != nil {
		c.fail(ctx, http.StatusBadRequest, event.ReasonOf(err), err.Error())
		return
	}
	src, ok := c.admit(ctx, b.Site, len(b.Events), "events", c.fail)
	if !ok {
		return
	}
	site := src.site

	ip, received := truncateIP(ctx.ClientIP()), now.UnixMilli()
	var ag useragent.Agent
	if !src.server {
		ag = c.agents.Parse(ctx.Request.UserAgent())
	}
	in := intake{
		recs:  make([]kafka.Record, 0, len(b.Events)),
		types: make([]event.Type, 0, len(b.Events)),
		// An event grows by what the collector stamps on it; the
		// events' raw sizes include their commas and spaces.
		buf: make([]byte, 0, len(body)+len(b.Events)*stampedBytes),
	}
	for i, raw := range b.Events {
		e, rej := b.Event(i, c.cfg.Limits)
		if rej == nil {
			rej = c.vouch(src, e, ip, b.SentAt, received)
		}
		if rej != nil {
			rej.Index = i
			in.reject(c.invalidRecord(site, received, raw, rej), *rej)
			continue
		}
		if src.server {
			ag = c.agentOf(src, e.UserAgent, "")
		}
		c.keep(&in, i, e, site, received, ag)
	}
	if !c.commit(ctx, &in) {
		return
	}
	status := http.StatusOK
	if len(in.rejected) > 0 {
		status = http.StatusBadRequest
	}
	c.answer(ctx, status, batchResponse{Accepted: len(in.types) + in.suppressed, Rejected: in.rejected})
}

// admit decides whether a request's n events are taken at all: its key
// (authenticate), that it holds some (what names them in its body) and not
// too many, and the rate limits. A request it refuses it has answered,
// with fail for the body's shape (Footfall's or Segment's).
func (c *Collector) admit(ctx *gin.Context, bodySite string, n int, what string, fail func(*gin.Context, int, event.Reason, string)) (source, bool) {
	src, ok := c.authenticate(ctx, bodySite)
	if !ok {
		return source{}, false
	}
	switch {
	case n == 0:
		fail(ctx, http.StatusBadRequest, event.ReasonEmptyBatch, what+" is empty")
		return source{}, false
	case n > c.cfg.MaxEvents:
		fail(ctx, http.StatusRequestEntityTooLarge, event.ReasonTooManyEvents, tooMany(n, c.cfg.MaxEvents))
		return source{}, false
	}
	if c.overLimit(ctx, src, n) {
		return source{}, false
	}
	return src, true
}

// intake is what a request's events come to: the records to store (the
// accepted events, and the rejected ones for footfall.invalid), the
// rejections to answer with and the types of the accepted to count.
//
// The accepted events' keys and values are cut from buf, one allocation
// for a request's records rather than two for each (capped, so that
// appending to one cannot overwrite the next). buf is never reused: the
// producer and the spool keep the records after the request.
type intake struct {
	recs     []kafka.Record
	rejected []event.Rejection
	types    []event.Type
	buf      []byte
	// suppressed counts the events of forgotten visitors, dropped but
	// answered as accepted (suppress.go).
	suppressed int
}

func (in *intake) reject(rec kafka.Record, rej event.Rejection) {
	in.recs = append(in.recs, rec)
	in.rejected = append(in.rejected, rej)
}

// keep stamps event i of a request (its site, when it was received, its
// user agent and the fields derived from it) and adds it to in.
func (c *Collector) keep(in *intake, i int, e *event.Event, site string, received int64, ag useragent.Agent) {
	if c.suppressed(site, e.AnonymousID, e.UserID) {
		in.suppressed++
		return
	}
	e.SiteID, e.ReceivedAt = site, received
	ag.Stamp(e)
	event.Derive(e)
	start := len(in.buf)
	buf, err := e.AppendJSON(in.buf)
	if err != nil { // unreachable for a decoded event; counted if not
		in.buf = buf[:start]
		in.rejected = append(in.rejected, event.Rejection{Index: i, ID: e.ID, Reason: event.ReasonInvalidField, Detail: err.Error()})
		return
	}
	value := buf[start:len(buf):len(buf)]
	start = len(buf)
	buf = append(buf, e.Key()...)
	key := buf[start:len(buf):len(buf)]
	in.buf = buf
	in.recs = append(in.recs, kafka.Record{Topic: event.Topic(c.cfg.TopicPrefix, e.Type), Key: key, Value: value})
	in.types = append(in.types, e.Type)
}

// commit stores in's records and counts its events. When neither Kafka
// nor the spool took them it answers the request itself and returns
// false.
func (c *Collector) commit(ctx *gin.Context, in *intake) bool {
	if err := c.store(ctx.Request.Context(), in.recs); err != nil {
		c.refuse(ctx, err)
		return false
	}
	for _, t := range in.types {
		c.m.accepted.WithLabelValues(string(t)).Inc()
	}
	for _, r := range in.rejected {
		c.m.rejected.WithLabelValues(string(r.Reason)).Inc()
	}
	return true
}

// agentOf is the user agent an event is stamped with. A browser's is its
// request's header. A server key speaks for a visitor it saw elsewhere, and
// its request's header names the sending library, not the visitor: the
// event's own user agent counts (the envelope's user_agent, Segment's
// context.userAgent), and without one the visitor is a person of unknown
// browser, not a bot.
func (c *Collector) agentOf(src source, given, requestUA string) useragent.Agent {
	switch {
	case !src.server:
		return c.agents.Parse(requestUA)
	case given == "":
		return useragent.Unknown()
	}
	return c.agents.Parse(given)
}

func tooMany(n, limit int) string { return fmt.Sprintf("%d events, limit %d", n, limit) }

// bodies holds the buffers requests are read into. A body is done with
// when its request is answered: what is kept of it (records, rejected
// events for footfall.invalid, Segment's messages) is decoded or encoded
// into memory of its own.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// keptBody is the largest buffer put back for another request: a rare
// large body is not worth holding on to.
const keptBody = 1 << 20

func putBody(b *bytes.Buffer) {
	if b.Cap() <= keptBody {
		b.Reset()
		bodies.Put(b)
	}
}

// readBody enforces the size limits and undoes gzip, reading the body
// into into (a gzip body's compressed bytes; what they inflate to is
// memory of its own). A non-empty reason means the request is refused
// with status.
func (c *Collector) readBody(r *http.Request, into *bytes.Buffer) ([]byte, int, event.Reason, string) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "text/plain") {
			return nil, http.StatusUnsupportedMediaType, event.ReasonBadEncoding, "Content-Type must be application/json or text/plain"
		}
	}
	limit := c.cfg.MaxBodyBytes
	if _, err := into.ReadFrom(io.LimitReader(r.Body, limit+1)); err != nil {
		return nil, http.StatusBadRequest, event.ReasonMalformedJSON, "read body: " + err.Error()
	}
	raw := into.Bytes()
	if int64(len(raw)) > limit {
		return nil, http.StatusRequestEntityTooLarge, event.ReasonBodyTooLarge, fmt.Sprintf("body over %d bytes", limit)
	}
	switch r.Header.Get("Content-Encoding") {
	case "", "identity":
		return raw, 0, "", ""
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, http.StatusBadRequest, event.ReasonBadEncoding, "gzip: " + err.Error()
		}
		out, err := io.ReadAll(io.LimitReader(zr, limit*maxInflation+1))
		if err != nil {
			return nil, http.StatusBadRequest, event.ReasonBadEncoding, "gzip: " + err.Error()
		}
		if int64(len(out)) > limit*maxInflation {
			return nil, http.StatusRequestEntityTooLarge, event.ReasonBodyTooLarge, "body inflates past the limit"
		}
		return out, 0, "", ""
	default:
		return nil, http.StatusUnsupportedMediaType, event.ReasonBadEncoding, "Content-Encoding must be gzip or absent"
	}
}

func (c *Collector) invalidRecord(site string, received int64, raw json.RawMessage, rej *event.Rejection) kafka.Record {
	return c.invalid("", site, received, raw, rej)
}

// invalid is what footfall.invalid keeps of a refused event (kind "") or
// log record (kind "log"): the reason and the input as sent.
func (c *Collector) invalid(kind, site string, received int64, raw json.RawMessage, rej *event.Rejection) kafka.Record {
	rec := invalidRecord{Kind: kind, Reason: rej.Reason, Detail: rej.Detail, SiteID: site, ReceivedAt: received}
	if len(raw) > c.cfg.Limits.MaxEventBytes {
		raw = raw[:c.cfg.Limits.MaxEventBytes]
	}
	// JSON text that is not UTF-8 goes as text, its bad bytes as U+FFFD,
	// so that the record itself is UTF-8 for every reader.
	if json.Valid(raw) && utf8.Valid(raw) {
		rec.Raw = raw
	} else {
		rec.RawText = string(raw)
	}
	value, _ := json.Marshal(rec) // only strings and valid JSON: cannot fail
	return kafka.Record{Topic: event.InvalidTopic(c.cfg.TopicPrefix), Key: []byte(site), Value: value}
}

func (c *Collector) fail(ctx *gin.Context, status int, reason event.Reason, detail string) {
	c.m.rejected.WithLabelValues(string(reason)).Inc()
	c.answer(ctx, status, batchResponse{Error: reason, Detail: detail})
}

// answer counts a request by its status and writes its JSON answer: a
// batchResponse here, Segment's or OTLP's shape on their routes.
func (c *Collector) answer(ctx *gin.Context, status int, body any) {
	c.m.requests.WithLabelValues(strconv.Itoa(status)).Inc()
	ctx.JSON(status, body)
}
