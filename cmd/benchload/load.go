package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/generate"
)

// The placeholders a template holds where each request writes its own
// values: an id and an epoch-ms time of fixed width.
const (
	idHole = "00000000-0000-4000-8000-000000000000"
	tsHole = "1000000000000"
)

// traffic makes request bodies: beacon batches (`{"site", "sent_at",
// "events"}`) of perReq events cut from the generator's shop traffic
// (visitors browsing, searching, clicking, in time order), with the
// collector's fields left out as a browser leaves them. Each template is
// encoded once; a request copies one and writes a fresh id into every
// event and the current time into sent_at and each ts (keeping the gaps
// between a batch's events), so that every event sent is new.
type traffic struct {
	perReq int
	tmpl   []template
	next   atomic.Uint64
	ids    atomic.Uint64
	run    [6]byte // random per run: ids of two runs never meet
}

type template struct {
	body   []byte
	sentAt int     // offset of sent_at's value
	ids    []int   // offsets of each event's id
	ts     []int   // offsets of each event's ts
	age    []int64 // ms each event is older than sent_at
}

// newTraffic encodes templates enough for `events` events (at least one
// request's worth) of site's write key.
func newTraffic(key string, perReq, events int, seed uint64) (*traffic, error) {
	t := &traffic{perReq: perReq}
	if _, err := rand.Read(t.run[:]); err != nil {
		return nil, err
	}
	evs := generated(max(events, perReq), seed)
	for len(evs) >= perReq {
		tp, err := encodeTemplate(key, evs[:perReq])
		if err != nil {
			return nil, err
		}
		t.tmpl = append(t.tmpl, tp)
		evs = evs[perReq:]
	}
	return t, nil
}

// generated are n events of the generator's shop, a day of many
// visitors, stamped as the collector stamps them.
func generated(n int, seed uint64) []*event.Event {
	cfg := generate.DefaultConfig()
	cfg.Seed, cfg.Days, cfg.Batch, cfg.Events = seed, 1, 10_000, n
	s := generate.NewStream(cfg)
	var evs []*event.Event
	for b := s.Batch(cfg.Batch); len(b) > 0; b = s.Batch(cfg.Batch) {
		evs = append(evs, b...)
	}
	return evs
}

func encodeTemplate(key string, evs []*event.Event) (template, error) {
	var tp template
	b := append([]byte(`{"site":`), strconv.Quote(key)...)
	b = append(b, `,"sent_at":`...)
	tp.sentAt = len(b)
	b = append(b, tsHole+`,"events":[`...)
	last := evs[len(evs)-1].TS
	for i, g := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		e := browserSide(g)
		at := len(b)
		var err error
		if b, err = e.AppendJSON(b); err != nil {
			return tp, err
		}
		enc := b[at:]
		id := bytes.Index(enc, []byte(`"id":"`+idHole))
		ts := bytes.Index(enc, []byte(`"ts":`+tsHole))
		if id < 0 || ts < 0 {
			return tp, fmt.Errorf("event %s: no id or ts where expected: %s", g.ID, enc)
		}
		tp.ids = append(tp.ids, at+id+len(`"id":"`))
		tp.ts = append(tp.ts, at+ts+len(`"ts":`))
		tp.age = append(tp.age, min(last-g.TS, int64(time.Hour/time.Millisecond)))
	}
	tp.body = append(b, "]}"...)
	return tp, nil
}

// browserSide is what a browser sends of a generated event: the collector
// stamps the rest.
func browserSide(g *event.Event) *event.Event {
	e := *g
	e.ID, e.TS = idHole, 1_000_000_000_000
	e.OriginalTS, e.UserVerified, e.ReceivedAt, e.SiteID = 0, false, 0, ""
	e.IP, e.UserAgent, e.Bot, e.Browser, e.OS, e.Device = "", "", false, "", "", ""
	e.PageURL, e.SearchKeyword, e.Date = "", "", 0
	return &e
}

// body fills dst with the next request's body.
func (t *traffic) body(dst []byte) []byte {
	tp := &t.tmpl[(t.next.Add(1)-1)%uint64(len(t.tmpl))]
	dst = append(dst[:0], tp.body...)
	now := time.Now().UnixMilli()
	putMillis(dst[tp.sentAt:], now)
	for i := range tp.ids {
		t.putID(dst[tp.ids[i]:])
		putMillis(dst[tp.ts[i]:], now-tp.age[i])
	}
	return dst
}

// putID writes a UUID (version 4 layout) of the run's bytes and a counter.
func (t *traffic) putID(dst []byte) {
	var u [16]byte
	copy(u[:6], t.run[:])
	binary.BigEndian.PutUint64(u[8:], t.ids.Add(1))
	u[6], u[7] = 0x40, 0x00
	u[8] = u[8]&0x3f | 0x80
	hex.Encode(dst[0:8], u[0:4])
	hex.Encode(dst[9:13], u[4:6])
	hex.Encode(dst[14:18], u[6:8])
	hex.Encode(dst[19:23], u[8:10])
	hex.Encode(dst[24:36], u[10:16])
}

func putMillis(dst []byte, ms int64) {
	strconv.AppendInt(dst[:0], ms, 10) // 13 digits until the year 2286
}

// load is one run of the load generator against one URL.
type load struct {
	url      string
	header   http.Header
	conns    int
	rate     float64 // requests a second; 0: as fast as they are answered
	duration time.Duration
	body     func(dst []byte) []byte // a POST's body
	get      func() string           // or a GET's URL
}

// result is what a load run saw.
type result struct {
	requests, failed int64
	elapsed          time.Duration
	latency          []time.Duration // of the answered requests, sorted
	firstFailure     string
}

func (r result) perSecond() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// percentile p (0-100) of the latencies.
func (r result) percentile(p float64) time.Duration {
	if len(r.latency) == 0 {
		return 0
	}
	return r.latency[min(len(r.latency)-1, int(float64(len(r.latency))*p/100))]
}

// run sends requests over l.conns keep-alive connections until the
// duration ends or ctx does. A request answered other than 2xx counts as
// failed.
func (l load) run(ctx context.Context) result {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        l.conns,
		MaxIdleConnsPerHost: l.conns,
		MaxConnsPerHost:     l.conns,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var limiter *rate.Limiter
	if l.rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(l.rate), max(1, int(l.rate/100)))
	}
	ctx, cancel := context.WithTimeout(ctx, l.duration)
	defer cancel()
	var (
		mu  sync.Mutex
		out result
		wg  sync.WaitGroup
	)
	start := time.Now()
	for range l.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var n, failed int64
			var first string
			var buf []byte
			for ctx.Err() == nil {
				if limiter != nil && limiter.Wait(ctx) != nil {
					break
				}
				var req *http.Request
				if l.get != nil {
					req, _ = http.NewRequestWithContext(ctx, http.MethodGet, l.get(), nil)
				} else {
					buf = l.body(buf)
					req, _ = http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(buf))
				}
				for k, v := range l.header {
					req.Header[k] = v
				}
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed++
						if first == "" {
							first = err.Error()
						}
					}
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode/100 != 2 {
					failed++
					if first == "" {
						first = res.Status
					}
					continue
				}
				n++
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			out.requests += n
			out.failed += failed
			out.latency = append(out.latency, lat...)
			if out.firstFailure == "" {
				out.firstFailure = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	slices.Sort(out.latency)
	return out
}
