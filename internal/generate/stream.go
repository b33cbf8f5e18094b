package generate

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/footfall/footfall/internal/event"
)

// Stream yields a Config's events in time order across all visits, as a
// loader reading the collector's topics in order would see them. Visits
// start hour by hour, as many as the hour's share of the events needs;
// the events of the visits under way wait in a heap until no visit yet
// to start can come before them. Events of one page view share their Page
// and Context: read them, do not change them.
type Stream struct {
	cfg      Config
	r        *rand.Rand
	shop     *shop
	visitors visitors
	start    int64 // epoch ms
	end      int64

	weights []float64 // per hour of the span
	total   float64
	hour    int     // the next hour to plan
	target  float64 // events due by the end of the planned hours
	starts  []int64 // visit starts of the planned hour, sorted
	next    int     // index into starts
	pending cursors // events of visits under way
	seq     uint64  // visits started, to break ties in time
	last    int64   // time of the last event out

	produced, emitted        int
	humanVisits, humanEvents int
	botVisits, botEvents     int
}

// NewStream returns the events of cfg, which must be valid.
func NewStream(cfg Config) *Stream {
	r := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	s := &Stream{
		cfg:   cfg,
		r:     r,
		shop:  newShop(r, cfg.Site),
		start: cfg.start().UnixMilli(),
		end:   cfg.End.UnixMilli(),
	}
	s.weights = hourWeights(r, cfg.start(), cfg.Days*24)
	for _, w := range s.weights {
		s.total += w
	}
	return s
}

// Batch returns the next n events or fewer; none once all are out.
func (s *Stream) Batch(n int) []*event.Event {
	out := make([]*event.Event, 0, min(n, s.cfg.Events-s.emitted))
	for len(out) < n && s.emitted < s.cfg.Events {
		start, ok := s.nextStart()
		if ok && (s.pending.Len() == 0 || s.pending.first() > start) {
			s.next++
			s.begin(start)
			continue
		}
		if s.pending.Len() == 0 {
			break
		}
		e := s.pending.pop()
		out = append(out, e)
		s.emitted, s.last = s.emitted+1, e.TS
	}
	return out
}

func (s *Stream) nextStart() (int64, bool) {
	for s.next >= len(s.starts) {
		if !s.plan() {
			return 0, false
		}
	}
	return s.starts[s.next], true
}

const hourMs = 3_600_000

// plan draws the visit starts of the next hour: as many visits as that
// hour's share of the events needs at the events per visit seen so far.
// The span's end cuts the last hour's visits short, so that hour plans a
// tenth more and the stream stops at exactly cfg.Events a few minutes
// before the end. Should the visits made still fall short, it draws more
// between the last event out and the end.
func (s *Stream) plan() bool {
	perVisit := 7.0
	if v := s.humanVisits + s.botVisits; v >= 1000 {
		perVisit = float64(s.produced) / float64(v)
	}
	if s.hour >= len(s.weights) {
		deficit := s.cfg.Events - s.produced
		from := max(s.last, s.end-hourMs)
		if deficit <= 0 || from >= s.end-1 {
			return false
		}
		s.draw(int(math.Ceil(float64(deficit)/perVisit)), from, s.end-from)
		return true
	}
	h := s.hour
	s.hour++
	s.target += float64(s.cfg.Events) * s.weights[h] / s.total
	n := (s.target - float64(s.produced)) / perVisit
	if s.hour == len(s.weights) {
		n = n*1.1 + 3
	}
	s.draw(int(math.Round(n)), s.start+int64(h)*hourMs, hourMs)
	return true
}

// draw replaces the planned starts with n drawn in [from, from+span).
func (s *Stream) draw(n int, from, span int64) {
	s.starts, s.next = s.starts[:0], 0
	for range max(0, n) {
		s.starts = append(s.starts, from+s.r.Int64N(span))
	}
	slices.Sort(s.starts)
}

// begin makes the visit starting at ms and queues its events. Whether a
// person or a bot makes it follows from the events per visit of each so
// far, so bots send about cfg.BotShare of the events.
func (s *Stream) begin(ms int64) {
	perHuman, perBot := 7.0, 10.0
	if s.humanVisits > 100 {
		perHuman = float64(s.humanEvents) / float64(s.humanVisits)
	}
	if s.botVisits > 100 {
		perBot = float64(s.botEvents) / float64(s.botVisits)
	}
	share := s.cfg.BotShare
	botVisit := share * perHuman / (share*perHuman + (1-share)*perBot)
	var events []*event.Event
	if s.r.Float64() < botVisit {
		v := newVisitor(s.r, crawlers) // bots keep no storage: a new one each time
		vi := newVisit(s.r, s.cfg.Site, &v, &crawlers[v.agent])
		s.shop.crawl(vi, ms)
		events, _ = vi.done(s.end)
		s.botVisits++
		s.botEvents += len(events)
	} else {
		v, returning := s.visitors.forVisit(s.r, ms)
		vi := newVisit(s.r, s.cfg.Site, v, &people[v.agent])
		s.shop.browse(vi, pickOrigin(s.r, returning, weekday(ms)), ms)
		events, v.free = vi.done(s.end)
		s.humanVisits++
		s.humanEvents += len(events)
	}
	s.produced += len(events)
	if len(events) > 0 {
		heap.Push(&s.pending, cursor{events: events, seq: s.seq})
		s.seq++
	}
}

// cursor is a visit's events not yet out.
type cursor struct {
	events []*event.Event
	i      int
	seq    uint64
}

// cursors is a heap of visits by their next event's time.
type cursors []cursor

func (c cursors) Len() int { return len(c) }
func (c cursors) Less(i, j int) bool {
	a, b := c[i].events[c[i].i].TS, c[j].events[c[j].i].TS
	return a < b || a == b && c[i].seq < c[j].seq
}
func (c cursors) Swap(i, j int) { c[i], c[j] = c[j], c[i] }
func (c *cursors) Push(x any)   { *c = append(*c, x.(cursor)) }
func (c *cursors) Pop() any {
	old := *c
	x := old[len(old)-1]
	*c = old[:len(old)-1]
	return x
}

func (c cursors) first() int64 { return c[0].events[c[0].i].TS }

func (c *cursors) pop() *event.Event {
	top := &(*c)[0]
	e := top.events[top.i]
	top.i++
	if top.i == len(top.events) {
		heap.Pop(c)
	} else {
		heap.Fix(c, 0)
	}
	return e
}
