package promotions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// openStream checks a stream request as a lookup is checked (site, limit,
// the identity rule) and subscribes it; nil when c has been answered.
func (a *API) openStream(c *gin.Context, lastID string) *subscriber {
	q, ok := a.parse(c)
	if !ok {
		return nil
	}
	askKnown, ok := a.guard(c, q)
	if !ok {
		return nil
	}
	if askKnown {
		known, err := a.view.knownUser(q.site, q.user)
		if err == nil && known {
			a.forbid(c, "user_hash_required", "user is a user id of a site with an identity secret: ask with user_hash, the HMAC the shop's server computes, or by anonymous id")
			return nil
		}
	}
	s, err := a.streams.subscribe(q.site, q.user, q.limit, lastID)
	if err != nil {
		a.m.failed.Inc()
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
		return nil
	}
	return s
}

// serveSSE is GET /v1/promotions/stream: Server-Sent Events, one event
// per state of the visitor's answer (the lookup's JSON), its id a hash of
// the state. A client that reconnects with Last-Event-ID gets the current
// state unless it has it already.
func (a *API) serveSSE(c *gin.Context) {
	lastID := c.GetHeader("Last-Event-ID")
	if lastID == "" {
		lastID = c.Query("last_event_id")
	}
	s := a.openStream(c, lastID)
	if s == nil {
		return
	}
	defer a.streams.unsubscribe(s)
	a.m.streamOpened.WithLabelValues("sse").Inc()
	w := c.Writer
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event at once
	w.WriteHeader(http.StatusOK)
	// A dropped client comes back after a second.
	if _, err := fmt.Fprint(w, "retry: 1000\n\n"); err != nil {
		return
	}
	w.Flush()
	beat := time.NewTicker(a.cfg.Heartbeat)
	defer beat.Stop()
	for {
		var err error
		select {
		case m := <-s.out:
			_, err = fmt.Fprintf(w, "id: %s\nevent: promotions\ndata: %s\n\n", m.id, m.data)
		case <-beat.C:
			a.m.heartbeats.Inc()
			_, err = fmt.Fprint(w, ": heartbeat\n\n")
		case <-s.gone:
			return
		case <-c.Request.Context().Done():
			return
		}
		if err != nil {
			return
		}
		w.Flush()
	}
}

// wsMessage is one WebSocket message: the lookup's JSON and the state's
// id, which a client may send back as last_event_id when it reconnects.
type wsMessage struct {
	ID string `json:"id"`
	Response
}

// serveWebSocket is GET /v1/promotions/ws: the same stream over a
// WebSocket, one text message per state, pings as heartbeats.
func (a *API) serveWebSocket(c *gin.Context) {
	s := a.openStream(c, c.Query("last_event_id"))
	if s == nil {
		return
	}
	defer a.streams.unsubscribe(s)
	// Any shop page may connect, as any may look up.
	conn, err := websocket.Accept(c.Writer, c.Request, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	defer func() { _ = conn.CloseNow() }()
	a.m.streamOpened.WithLabelValues("websocket").Inc()
	ctx := conn.CloseRead(c.Request.Context()) // the client only listens
	beat := time.NewTicker(a.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case m := <-s.out:
			wctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
			err = conn.Write(wctx, websocket.MessageText, wsFrame(m))
			cancel()
		case <-beat.C:
			a.m.heartbeats.Inc()
			pctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
			err = conn.Ping(pctx)
			cancel()
		case <-s.gone:
			_ = conn.Close(websocket.StatusTryAgainLater, "reconnect for the current state")
			return
		case <-ctx.Done():
			return
		}
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				a.m.streamDrops.WithLabelValues("write_failed").Inc()
			}
			return
		}
	}
}

// wsFrame is m as a wsMessage: the id spliced in front of the answer's
// own JSON, which starts with '{'.
func wsFrame(m message) []byte {
	b := make([]byte, 0, len(m.data)+len(m.id)+10)
	b = append(b, `{"id":"`...)
	b = append(b, m.id...)
	b = append(b, `",`...)
	return append(b, m.data[1:]...)
}

// liveMetrics count the view and its streams.
type liveMetrics struct {
	streams        prometheus.Gauge
	streamOpened   *prometheus.CounterVec
	streamMessages prometheus.Counter
	streamDrops    *prometheus.CounterVec
	heartbeats     prometheus.Counter
	updates        *prometheus.CounterVec
	updateLag      prometheus.Histogram
	resyncs        *prometheus.CounterVec
	expired        prometheus.Counter
}

func (m *metrics) registerLive(reg prometheus.Registerer) {
	m.liveMetrics = liveMetrics{
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "footfall_promotions_streams", Help: "Open SSE and WebSocket streams.",
		}),
		streamOpened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_promotions_streams_opened_total", Help: "Streams opened, by transport: sse, websocket.",
		}, []string{"transport"}),
		streamMessages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_promotions_stream_messages_total", Help: "States queued to streams.",
		}),
		streamDrops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_promotions_stream_drops_total", Help: "Streams the instance closed, by reason: slow_client (its buffer was full), write_failed, shutdown.",
		}, []string{"reason"}),
		heartbeats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_promotions_stream_heartbeats_total", Help: "Heartbeats sent to idle streams.",
		}),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_promotions_updates_total", Help: "promotion_updates records read, by outcome: applied, bad.",
		}, []string{"outcome"}),
		updateLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "footfall_promotions_update_lag_seconds", Help: "From an update's publish to the view applying it.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_promotions_resyncs_total", Help: "Rereads of what PostgreSQL changed, by outcome: ok, error.",
		}, []string{"outcome"}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_promotions_view_expired_total", Help: "Rows the view dropped as they expired.",
		}),
	}
	reg.MustRegister(m.streams, m.streamOpened, m.streamMessages, m.streamDrops, m.heartbeats, m.updates, m.updateLag, m.resyncs, m.expired)
}
