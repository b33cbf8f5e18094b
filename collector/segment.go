package collector

import (
	"bytes"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/segment"
)

// segmentResponse is the body of every answer in Segment's shape: 200
// {"success": true} when every message was accepted, as Segment answers;
// otherwise a real 4xx with the reasons, as RudderStack answers.
type segmentResponse struct {
	Success  bool              `json:"success"`
	Accepted int               `json:"accepted,omitempty"`
	Rejected []event.Rejection `json:"rejected,omitempty"`
	Error    event.Reason      `json:"error,omitempty"`
	Detail   string            `json:"detail,omitempty"`
}

// serveSegmentCall answers one call of Segment's HTTP Tracking API, POST
// /v1/<kind>: its body is one message.
func (c *Collector) serveSegmentCall(kind segment.Kind) gin.HandlerFunc {
	return func(ctx *gin.Context) {
		now := time.Now()
		into := bodies.Get().(*bytes.Buffer)
		defer putBody(into)
		body, code, reason, detail := c.readBody(ctx.Request, into)
		if reason != "" {
			c.failSegment(ctx, code, reason, detail)
			return
		}
		req, err := segment.DecodeCall(kind, body)
		if err != nil {
			c.failSegment(ctx, http.StatusBadRequest, event.ReasonMalformedJSON, err.Error())
			return
		}
		c.serveSegment(ctx, req, now)
	}
}

// serveSegment takes the messages of req as serveBatch takes Footfall's
// events: the same keys, origins and rate limits, the same trust given to
// user ids, addresses and times (vouch), the same stamping and storing.
// Segment's libraries send the key as the HTTP Basic user; a body's
// writeKey stands for the body's site.
func (c *Collector) serveSegment(ctx *gin.Context, req *segment.Request, now time.Time) {
	src, ok := c.admit(ctx, req.WriteKey, len(req.Messages), "batch", c.failSegment)
	if !ok {
		return
	}
	ip, received := truncateIP(ctx.ClientIP()), now.UnixMilli()
	in := segment.Input{Site: src.site, ReceivedAt: now, Limits: c.cfg.Limits}
	var b intake
	for i := range req.Messages {
		m, rej := segment.Map(req, i, in)
		if rej == nil {
			rej = c.vouch(src, m.Event, ip, m.SentAt, received)
		}
		if rej != nil {
			rej.Index = i
			b.reject(c.invalidRecord(src.site, received, req.Messages[i], rej), *rej)
			continue
		}
		c.keep(&b, i, m.Event, src.site, received, c.agentOf(src, m.UserAgent, ctx.Request.UserAgent()))
	}
	if !c.commit(ctx, &b) {
		return
	}
	if len(b.rejected) > 0 {
		c.answer(ctx, http.StatusBadRequest, segmentResponse{Accepted: len(b.types) + b.suppressed, Rejected: b.rejected})
		return
	}
	c.answer(ctx, http.StatusOK, segmentResponse{Success: true})
}

func (c *Collector) failSegment(ctx *gin.Context, status int, reason event.Reason, detail string) {
	c.m.rejected.WithLabelValues(string(reason)).Inc()
	c.answer(ctx, status, segmentResponse{Error: reason, Detail: detail})
}
