package enricher

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/pgoffsets"
	"github.com/footfall/footfall/internal/testenv"
)

// benchBatch is the enricher's default batch count: one Kafka batch.
const benchBatch = 1000

// benchPartitions is how many partitions each topic has in the benchmarks;
// each member holds its own share of them.
const benchPartitions = 12

// What visitors search for and click on: most match a demo promotion,
// some match two, some none.
var (
	benchKeywords = []string{"humidifier", "humidifiers", "humidifier filter", "mist maker", "kettle", "tea kettles",
		"tower fan", "fans", "wool blanket", "throws", "socks", "frying pan", "knife set", "phone charger"}
	benchHrefs = []string{"https://shop.example/demo/search.html?q=kettle", "https://shop.example/demo/search.html?q=fan",
		"/demo/search.html?q=humidifier+filter", "/demo/index.html", "/demo/cart.html", "/demo/p/1234"}
)

// benchFeed makes the batches one member reads: searches and clicks (three
// to two) of 50,000 visitors a member, one in ten logged in with a user id
// the collector vouched for, each visitor on its own partition of the
// member's share, offsets counting up per partition.
type benchFeed struct {
	member int
	rng    *rand.Rand
	next   map[pgoffsets.Partition]int64
}

func newBenchFeed(member int) *benchFeed {
	return &benchFeed{member: member, rng: rand.New(rand.NewPCG(uint64(member), 1)), next: map[pgoffsets.Partition]int64{}}
}

func (f *benchFeed) batch(tb testing.TB, members int) []kafka.Record {
	tb.Helper()
	recs := make([]kafka.Record, benchBatch)
	at := time.Now()
	results := 12
	for i := range recs {
		v := f.rng.IntN(50_000)
		ev := &event.Event{
			ID: testenv.UUID(), TS: at.UnixMilli(), AnonymousID: fmt.Sprintf("m%d-v%05d", f.member, v),
			SessionID: fmt.Sprintf("m%d-s%05d", f.member, v), SiteID: "demo", ReceivedAt: at.UnixMilli(),
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
			Browser:   "Chrome", OS: "Linux", Device: "desktop",
		}
		if v%10 == 0 {
			ev.UserID, ev.UserVerified = fmt.Sprintf("user-%d-%d", f.member, v), true
		}
		if f.rng.IntN(5) < 3 {
			kw := benchKeywords[f.rng.IntN(len(benchKeywords))]
			ev.Type, ev.Search = event.Search, &event.SearchDetail{Keyword: kw, Results: &results}
			ev.Page = &event.Page{URL: "https://shop.example/demo/search.html", Path: "/demo/search.html", Title: "Search"}
			ev.SearchKeyword, ev.PageURL, ev.Date = kw, ev.Page.URL, at.UnixMilli()
		} else {
			ev.Type = event.Click
			ev.Click = &event.ClickDetail{Selector: "a.promo", Text: "See the deal", Href: benchHrefs[f.rng.IntN(len(benchHrefs))], Tag: "a"}
			ev.Page = &event.Page{URL: "https://shop.example/demo/index.html", Path: "/demo/index.html", Title: "Demo shop"}
		}
		k := pgoffsets.Partition{Topic: event.Topic("footfall", ev.Type), Partition: int32(f.member + members*(v%(benchPartitions/members)))}
		recs[i] = record(tb, ev, k.Partition, f.next[k])
		f.next[k]++
	}
	return recs
}

// benchApply runs b.N batches through apply, spread over members each
// applying its own partitions' batches concurrently, and reports events/s.
func benchApply(b *testing.B, members int, apply func(ctx context.Context, recs []kafka.Record) error) {
	feeds := make([]*benchFeed, members)
	for m := range feeds {
		feeds[m] = newBenchFeed(m)
	}
	// Every batch is made before the clock starts: the members share it.
	batches := make([][][]kafka.Record, members)
	for i := 0; i < b.N; i++ {
		batches[i%members] = append(batches[i%members], feeds[i%members].batch(b, members))
	}
	ctx := context.Background()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, members)
	for m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, recs := range batches[m] {
				if err := apply(ctx, recs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}

// benchMembers are the cases: one member, and two members on their own
// partitions, as a group of two scales out.
var benchMembers = []int{1, 2}

// BenchmarkEnricherApply is the enricher's whole write path for one Kafka
// batch of searches and clicks: decoding, the partitions' offset locks,
// dedup against processed_events, matching, the upserts, the offsets, in
// one transaction.
func BenchmarkEnricherApply(b *testing.B) {
	for _, members := range benchMembers {
		b.Run(fmt.Sprintf("%d_events_%d_members", benchBatch, members), func(b *testing.B) {
			e, _ := newApplier(b, testenv.Name("enricher"))
			benchApply(b, members, e.HandleBatch)
		})
	}
}

// BenchmarkEnricherApplyBaseline writes the same batches' upserts
// (user_promotions, identities, known_users) as one bare pgx batch in a
// transaction (Ceiling): the same decoding and matching, no offsets, no
// dedup.
func BenchmarkEnricherApplyBaseline(b *testing.B) {
	for _, members := range benchMembers {
		b.Run(fmt.Sprintf("%d_events_%d_members", benchBatch, members), func(b *testing.B) {
			_, pool := newApplier(b, testenv.Name("enricher"))
			benchApply(b, members, NewCeiling(pool, DefaultConfig()).Apply)
		})
	}
}
