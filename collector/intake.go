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
	"time"

	"github.com/gin-gonic/gin"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

// maxInflation bounds how far a gzip body may expand, so a small
// compressed request cannot become a huge one.
const maxInflation = 8

// retryAfter is what a client is told to wait when Kafka is unreachable.
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
	Reason     event.Reason    `json:"reason"`
	Detail     string          `json:"detail,omitempty"`
	SiteID     string          `json:"site_id"`
	ReceivedAt int64           `json:"received_at"`
	Raw        json.RawMessage `json:"raw,omitempty"`
	RawText    string          `json:"raw_text,omitempty"`
}

// serveBatch answers 200 when every event was accepted. When some were
// rejected it answers 400 listing each rejected event's index and reason;
// the accepted events of that batch are in Kafka all the same, and a
// resend is harmless because events are deduplicated by id.
func (c *Collector) serveBatch(ctx *gin.Context) {
	now := time.Now()
	body, code, reason, detail := c.readBody(ctx.Request)
	if reason != "" {
		c.fail(ctx, code, reason, detail)
		return
	}
	b, err := event.DecodeBatch(body)
	if err != nil {
		c.fail(ctx, http.StatusBadRequest, event.ReasonMalformedJSON, err.Error())
		return
	}
	site, ok := c.cfg.Sites[b.Site]
	switch {
	case !ok:
		c.fail(ctx, http.StatusUnauthorized, event.ReasonUnknownSite, "no site has this write key")
		return
	case len(b.Events) == 0:
		c.fail(ctx, http.StatusBadRequest, event.ReasonEmptyBatch, "events is empty")
		return
	case len(b.Events) > c.cfg.MaxEvents:
		c.fail(ctx, http.StatusRequestEntityTooLarge, event.ReasonTooManyEvents, fmt.Sprintf("%d events, limit %d", len(b.Events), c.cfg.MaxEvents))
		return
	}

	ip, ag := truncateIP(ctx.ClientIP()), parseAgent(ctx.Request.UserAgent())
	received := now.UnixMilli()
	recs := make([]kafka.Record, 0, len(b.Events))
	var rejected []event.Rejection
	types := make([]event.Type, 0, len(b.Events))
	for i, raw := range b.Events {
		e, rej := event.DecodeEvent(raw, c.cfg.Limits)
		if rej == nil {
			rej = c.verifyIdentity(site, e)
		}
		if rej != nil {
			rej.Index = i
			rejected = append(rejected, *rej)
			recs = append(recs, c.invalidRecord(site, received, raw, rej))
			continue
		}
		e.SiteID, e.ReceivedAt, e.IP, e.UserAgent = site, received, ip, ctx.Request.UserAgent()
		e.Bot, e.Browser, e.OS, e.Device = ag.Bot, ag.Browser, ag.OS, ag.Device
		event.Derive(e)
		value, err := json.Marshal(e)
		if err != nil { // unreachable for a decoded event; counted if not
			rejected = append(rejected, event.Rejection{Index: i, ID: e.ID, Reason: event.ReasonInvalidField, Detail: err.Error()})
			continue
		}
		recs = append(recs, kafka.Record{Topic: event.Topic(c.cfg.TopicPrefix, e.Type), Key: []byte(e.Key()), Value: value})
		types = append(types, e.Type)
	}

	start := time.Now()
	if err := c.deps.Publisher.Publish(ctx, recs); err != nil {
		c.m.kafkaErrors.Inc()
		c.deps.Log.Error("kafka did not acknowledge batch", "records", len(recs), "err", err)
		ctx.Header("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
		c.answer(ctx, http.StatusServiceUnavailable, batchResponse{Error: "kafka_unavailable", Detail: "events were not stored; retry"})
		return
	}
	c.m.produceTime.Observe(time.Since(start).Seconds())
	for _, t := range types {
		c.m.accepted.WithLabelValues(string(t)).Inc()
	}
	for _, r := range rejected {
		c.m.rejected.WithLabelValues(string(r.Reason)).Inc()
	}
	status := http.StatusOK
	if len(rejected) > 0 {
		status = http.StatusBadRequest
	}
	c.answer(ctx, status, batchResponse{Accepted: len(types), Rejected: rejected})
}

// verifyIdentity checks an identify event of a site with an identity
// secret: its props.user_hash must be the HMAC of its user_id, or anyone
// could link their device to another shopper's account. Once checked, the
// hash has served and is dropped. Other events, and sites without a
// secret, pass as they are.
func (c *Collector) verifyIdentity(site string, e *event.Event) *event.Rejection {
	secret, ok := c.cfg.IdentitySecrets[site]
	if !ok || e.Type != event.Identify {
		return nil
	}
	hash, _ := e.Props[event.UserHashProp].(string)
	if !event.ValidUserHash(secret, e.UserID, hash) {
		return &event.Rejection{ID: e.ID, Reason: event.ReasonBadUserHash,
			Detail: "props.user_hash must be the hex HMAC-SHA256 of user_id under the site's identity secret"}
	}
	delete(e.Props, event.UserHashProp)
	if len(e.Props) == 0 {
		e.Props = nil
	}
	return nil
}

// readBody enforces the size limits and undoes gzip. A non-empty reason
// means the request is refused with status.
func (c *Collector) readBody(r *http.Request) ([]byte, int, event.Reason, string) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "text/plain") {
			return nil, http.StatusUnsupportedMediaType, event.ReasonBadEncoding, "Content-Type must be application/json or text/plain"
		}
	}
	limit := c.cfg.MaxBodyBytes
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, http.StatusBadRequest, event.ReasonMalformedJSON, "read body: " + err.Error()
	}
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
	rec := invalidRecord{Reason: rej.Reason, Detail: rej.Detail, SiteID: site, ReceivedAt: received}
	if len(raw) > c.cfg.Limits.MaxEventBytes {
		raw = raw[:c.cfg.Limits.MaxEventBytes]
	}
	if json.Valid(raw) {
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

func (c *Collector) answer(ctx *gin.Context, status int, body batchResponse) {
	c.m.requests.WithLabelValues(strconv.Itoa(status)).Inc()
	ctx.JSON(status, body)
}
