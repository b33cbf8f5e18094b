package promotions

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
)

// The lookup benchmarks come in a pair (docs/benchmarks.md):
// BenchmarkLookup is GET /v1/promotions answered from a filled view by
// many goroutines at once; BenchmarkLookupBaseline is a bare gin handler
// answering the same requests with a fixed JSON body of the same size:
// what any gin endpoint costs before it looks anything up. Both report
// their p99 latency per request.

const benchVisitors = 10000

// benchView is a view of the demo shop's catalog with benchVisitors
// visitors, each interested in three promotions, every tenth logged in on
// two devices.
func benchView() *view {
	now := time.Now()
	r := &pgRead{catalog: map[string][]offer{}}
	for i, id := range []string{"humidifier-deal", "humidifier-filters", "kettle-deal", "fan-deal", "blanket-deal", "welcome", "free-shipping"} {
		r.catalog["demo"] = append(r.catalog["demo"], offer{
			Promotion: Promotion{ID: id, Title: "A deal on " + id, URL: "/demo/search.html?q=" + id, Image: "/demo/img/" + id + ".svg"},
			priority:  10 * i, isDefault: i >= 5,
		})
	}
	for v := range benchVisitors {
		for j := range 3 {
			p := r.catalog["demo"][(v+j)%5].ID
			r.rows = append(r.rows, siteRow{site: "demo", user: fmt.Sprintf("anon-%d", v), promotion: p,
				row: row{score: float64(10 * (j + 1)), reason: "search:" + p, last: now, expires: now.Add(time.Hour), updated: now}})
		}
		if v%10 == 0 {
			r.links = append(r.links, [3]string{"demo", fmt.Sprintf("anon-%d", v), fmt.Sprintf("user-%d", v)}, [3]string{"demo", fmt.Sprintf("anon-%d", v+1), fmt.Sprintf("user-%d", v)})
		}
	}
	v := newView()
	v.merge(r)
	v.filled.Store(true)
	return v
}

// benchRequests are the lookups of every visitor in turn.
func benchRequests() []string {
	out := make([]string, benchVisitors)
	for i := range out {
		out[i] = fmt.Sprintf("/v1/promotions?site=demo&user=anon-%d", i)
	}
	return out
}

// serveParallel sends the requests to h from many goroutines and reports
// the p99 of their latencies.
func serveParallel(b *testing.B, h http.Handler, paths []string) {
	b.ReportAllocs()
	b.SetParallelism(8)
	var mu sync.Mutex
	var all []time.Duration
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var took []time.Duration
		for i := 0; pb.Next(); i++ {
			req := httptest.NewRequest(http.MethodGet, paths[i%len(paths)], nil)
			w := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(w, req)
			took = append(took, time.Since(start))
			if w.Code != http.StatusOK {
				b.Errorf("%s: %d %s", req.URL, w.Code, w.Body)
				return
			}
		}
		mu.Lock()
		all = append(all, took...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(all) > 0 {
		slices.Sort(all)
		b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds()), "p99-ns")
	}
}

func BenchmarkLookup(b *testing.B) {
	a, err := NewLive(DefaultConfig(), Deps{Kafka: kafka.DefaultConfig(), Ops: server.NewOps(), Log: nil})
	if err != nil {
		b.Fatal(err)
	}
	a.view.replace(benchView())
	serveParallel(b, a.Handler(), benchRequests())
}

func BenchmarkLookupBaseline(b *testing.B) {
	a, err := NewLive(DefaultConfig(), Deps{Kafka: kafka.DefaultConfig(), Ops: server.NewOps(), Log: nil})
	if err != nil {
		b.Fatal(err)
	}
	a.view.replace(benchView())
	promos, _ := a.view.top("demo", "anon-1", 5, time.Now())
	body, err := json.Marshal(Response{Site: "demo", User: "anon-1", Promotions: promos})
	if err != nil {
		b.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/v1/promotions", func(c *gin.Context) { c.Data(http.StatusOK, "application/json; charset=utf-8", body) })
	serveParallel(b, e, benchRequests())
}
