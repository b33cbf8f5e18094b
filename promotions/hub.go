package promotions

import (
	"encoding/json"
	"hash/fnv"
	"strconv"
	"sync"
	"time"
)

// message is one state a stream sends: the lookup's answer, and an id
// that names that state. The id is a hash of the answer, so any instance
// can tell whether a reconnecting client's Last-Event-ID is what it would
// send now: no instance keeps history, and no session needs to be sticky.
type message struct {
	id   string
	data []byte
}

// subscriber is one open stream.
type subscriber struct {
	site, user string
	limit      int
	out        chan message
	// gone is closed when the hub drops the subscriber: its buffer was
	// full (a slow client) or the instance is stopping.
	gone chan struct{}
	last string // the id last queued; guarded by hub.mu
}

// hub holds an instance's streams and pushes each the changes to its
// visitor's answer. It never waits for a client: a message that does not
// fit a client's buffer drops that client, which reconnects and gets the
// current state.
type hub struct {
	view   *view
	buffer int
	m      *metrics

	mu     sync.Mutex
	subs   map[string]map[string][]*subscriber // site, user
	closed bool
}

func newHub(v *view, buffer int, m *metrics) *hub {
	return &hub{view: v, buffer: buffer, m: m, subs: map[string]map[string][]*subscriber{}}
}

// answer is what s's visitor would be told now.
func (h *hub) answer(s *subscriber) (message, error) {
	promos, err := h.view.top(s.site, s.user, s.limit, time.Now())
	if err != nil {
		return message{}, err
	}
	b, err := json.Marshal(Response{Site: s.site, User: s.user, Promotions: promos})
	if err != nil {
		return message{}, err
	}
	f := fnv.New64a()
	_, _ = f.Write(b)
	return message{id: strconv.FormatUint(f.Sum64(), 36), data: b}, nil
}

// subscribe opens a stream. Its first message is the current state,
// unless lastID says the client has it already.
func (h *hub) subscribe(site, user string, limit int, lastID string) (*subscriber, error) {
	s := &subscriber{site: site, user: user, limit: limit, out: make(chan message, h.buffer), gone: make(chan struct{}), last: lastID}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errNotFilled
	}
	m, err := h.answer(s)
	if err != nil {
		return nil, err
	}
	if m.id != lastID {
		s.out <- m
		s.last = m.id
		h.m.streamMessages.Inc()
	}
	users := h.subs[site]
	if users == nil {
		users = map[string][]*subscriber{}
		h.subs[site] = users
	}
	users[user] = append(users[user], s)
	h.m.streams.Inc()
	return s, nil
}

// unsubscribe forgets s, if the hub has not dropped it already.
func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remove(s)
}

func (h *hub) remove(s *subscriber) bool {
	list := h.subs[s.site][s.user]
	for i, x := range list {
		if x == s {
			h.subs[s.site][s.user] = append(list[:i], list[i+1:]...)
			if len(h.subs[s.site][s.user]) == 0 {
				delete(h.subs[s.site], s.user)
			}
			h.m.streams.Dec()
			return true
		}
	}
	return false
}

// drop disconnects s for reason.
func (h *hub) drop(s *subscriber, reason string) {
	if h.remove(s) {
		close(s.gone)
		h.m.streamDrops.WithLabelValues(reason).Inc()
	}
}

// changed tells the streams of users on site to check their answers.
func (h *hub) changed(site string, users []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range users {
		for _, s := range append([]*subscriber(nil), h.subs[site][u]...) {
			h.push(s)
		}
	}
}

// refreshAll checks every stream: after a catalog reload, or as rows
// expire.
func (h *hub) refreshAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, users := range h.subs {
		for _, list := range users {
			for _, s := range append([]*subscriber(nil), list...) {
				h.push(s)
			}
		}
	}
}

// push queues s's answer if it changed; h.mu is held.
func (h *hub) push(s *subscriber) {
	m, err := h.answer(s)
	if err != nil || m.id == s.last {
		return
	}
	select {
	case s.out <- m:
		s.last = m.id
		h.m.streamMessages.Inc()
	default:
		h.drop(s, "slow_client")
	}
}

// close drops every stream as the instance stops, so the HTTP server's
// shutdown does not wait for them.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, users := range h.subs {
		for _, list := range users {
			for _, s := range append([]*subscriber(nil), list...) {
				h.drop(s, "shutdown")
			}
		}
	}
}
