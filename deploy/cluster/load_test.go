package cluster_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

var (
	sigterm    = syscall.SIGTERM
	sigkill    = syscall.SIGKILL
	httpClient = &http.Client{Timeout: 10 * time.Second}
)

// desktop is a browser's User-Agent: bots are left out of visits.
const desktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"

// sentEvent is one event answered 2xx.
type sentEvent struct {
	typ, session, visitor string
}

// sent is what the load got through.
type sent struct {
	events     map[string]sentEvent // by id
	visits     int
	unanswered int // events of batches no collector answered 2xx, after every retry
	retries    int
}

type load struct {
	t     *testing.T
	c     *cluster
	stopC chan struct{}
	wg    sync.WaitGroup
	next  atomic.Uint64

	mu  sync.Mutex
	out sent
}

// startLoad sends rate visits a second, each one batch of five events
// (three pageviews, a search for humidifiers, a click on the basket; only
// the search scores a promotion in the demo catalog) from a new
// visitor, to the collectors in turn. A batch that is not answered 2xx is
// sent again, same ids, to the next collector, as the beacon retries: the
// collectors drop ids they have seen.
func startLoad(t *testing.T, c *cluster, rate int) *load {
	l := &load{t: t, c: c, stopC: make(chan struct{}), out: sent{events: map[string]sentEvent{}}}
	const senders = 8
	for range senders {
		l.wg.Add(1)
		go l.send(time.Second * senders / time.Duration(rate))
	}
	return l
}

func (l *load) stop() sent {
	close(l.stopC)
	l.wg.Wait()
	return l.out
}

func (l *load) send(every time.Duration) {
	defer l.wg.Done()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-l.stopC:
			return
		case <-tick.C:
		}
		l.visit()
	}
}

// collector picks the next collector that has not been told to stop.
func (l *load) collector() string {
	names := []string{"collector-1", "collector-2"}
	for range names {
		name := names[l.next.Add(1)%uint64(len(names))]
		if l.c.alive(name) {
			return fmt.Sprintf("http://127.0.0.1:%d/v1/batch", ports[name])
		}
	}
	return fmt.Sprintf("http://127.0.0.1:%d/v1/batch", ports["collector-1"])
}

func (l *load) visit() {
	visitor, session := uuid.NewString(), uuid.NewString()
	now := time.Now().UnixMilli()
	steps := []struct {
		typ    string
		fields map[string]any
	}{
		{"pageview", map[string]any{"page": page("/")}},
		{"search", map[string]any{"page": page("/"), "search": map[string]any{"keyword": "humidifier", "results": 4}}},
		{"pageview", map[string]any{"page": page("/search")}},
		{"click", map[string]any{"page": page("/search"), "click": map[string]any{"selector": "a.basket", "text": "Basket", "href": "/cart", "tag": "a"}}},
		{"pageview", map[string]any{"page": page("/cart")}},
	}
	events := make([]map[string]any, len(steps))
	ids := make([]string, len(steps))
	for i, s := range steps {
		ids[i] = uuid.NewString()
		e := map[string]any{"id": ids[i], "type": s.typ, "ts": now - int64(len(steps)-i)*1000, "anonymous_id": visitor, "session_id": session}
		for k, v := range s.fields {
			e[k] = v
		}
		events[i] = e
	}
	body, _ := json.Marshal(map[string]any{"site": l.c.writeKey, "sent_at": now, "events": events})
	retries := 0
	for attempt := 0; attempt < 40; attempt++ {
		if attempt > 0 {
			retries++
			time.Sleep(250 * time.Millisecond)
		}
		req, _ := http.NewRequest(http.MethodPost, l.collector(), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", desktop)
		res, err := httpClient.Do(req)
		if err != nil {
			continue
		}
		_ = res.Body.Close()
		if res.StatusCode/100 != 2 {
			continue
		}
		l.mu.Lock()
		for i, id := range ids {
			l.out.events[id] = sentEvent{typ: steps[i].typ, session: session, visitor: visitor}
		}
		l.out.visits++
		l.out.retries += retries
		l.mu.Unlock()
		return
	}
	l.mu.Lock()
	l.out.unanswered += len(ids)
	l.out.retries += retries
	l.mu.Unlock()
}

func page(path string) map[string]any {
	return map[string]any{"url": "https://shop.example" + path, "path": path, "title": path, "referrer": ""}
}
