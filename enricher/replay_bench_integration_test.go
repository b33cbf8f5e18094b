package enricher_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/migrations"
)

// BenchmarkReplay replays a history of 30,000 events (searches, product
// page views, clicks and views of other pages, of 5,000 visitors) through
// `replay --rebuild promotions`'s code path with the default batch, and
// reports events/s from the start of Replay to the swap's commit, joining
// the consumer group included:
//
//	FOOTFALL_INTEGRATION=1 go test -run '^$' -bench Replay -benchtime 1x ./enricher/
func BenchmarkReplay(b *testing.B) {
	kc, pool := testenv.Kafka(b), testenv.Postgres(b)
	if err := migrations.SeedDemo(context.Background(), pool); err != nil {
		b.Fatal(err)
	}
	producer := testenv.Producer(b, kc, "footfall-replay-bench")
	rng := rand.New(rand.NewPCG(1, 2))
	keywords := []string{"humidifiers", "tea kettle", "air moisturiser", "tower fans", "socks", "wool blanket"}
	pages := []string{"/demo/product.html?id=tower-fan", "/demo/product.html?id=steel-kettle", "/demo/index.html", "/demo/cart.html"}
	const n = 30_000
	events := make([]*event.Event, 0, n)
	for i := range n {
		v := fmt.Sprintf("anon-%04d", rng.IntN(5000))
		switch i % 4 {
		case 0:
			events = append(events, search(v, keywords[rng.IntN(len(keywords))]))
		case 1:
			events = append(events, click(v, pages[rng.IntN(len(pages))]))
		default:
			events = append(events, view(v, pages[rng.IntN(len(pages))]))
		}
	}
	for i := 0; i < n; i += 1000 {
		testenv.Publish(b, producer, kc.TopicPrefix, events[i:i+1000]...)
	}
	in := testenv.Inspector(b, kc)
	cfg := enricher.DefaultConfig()
	cfg.Group = testenv.Name("enricher")
	b.Cleanup(func() { _ = in.DeleteGroup(enricher.ReplayGroup(cfg.Group)) })
	b.ResetTimer()
	var events64, total float64
	for range b.N {
		res, err := enricher.Replay(context.Background(), cfg, enricher.ReplayDeps{Kafka: kc, Pool: pool, Log: testenv.Log(b), Fresh: true})
		if err != nil {
			b.Fatal(err)
		}
		events64 += float64(res.Events)
		total += res.Elapsed.Seconds()
	}
	b.ReportMetric(events64/total, "events/s")
}
