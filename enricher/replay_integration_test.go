package enricher_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/migrations"
)

// A replay under a new rule (a synonym added) while the live enricher
// keeps consuming: afterwards every visitor's scores are those a fresh
// enricher computes over the same events under the new rule, in a
// database of its own, and the events the live enricher took in during
// and after the replay are in them, each once.
func TestReplayRebuildsPromotionsWhileLive(t *testing.T) {
	r := newRig(t)
	cfg := config(r.group())
	cfg.CatalogRefresh = 100 * time.Millisecond // the live enricher takes the new rule up at once
	replayGroup := enricher.ReplayGroup(cfg.Group)
	t.Cleanup(func() {
		if err := r.inspector.DeleteGroup(replayGroup); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	r.startEnricher(cfg)

	var history []*event.Event
	for i := range 200 {
		v := fmt.Sprintf("anon-%03d", i)
		history = append(history, search(v, "tea makers"), search(v, "humidifiers"), view(v, "/demo/product.html?id=tower-fan"))
	}
	resend := *history[1]
	history = append(history, &resend)
	r.produce(history...)
	r.waitApplied(cfg.Group)
	if got := r.scores("anon-000")["kettle-deal"]; got != 0 {
		t.Fatalf("before the rule: anon-000 has kettle-deal %v", got)
	}

	// The new rule.
	r.exec(`INSERT INTO synonyms (site_id, term, synonyms) VALUES ($1, 'kettle', '{"tea maker"}')`, site)

	// Live traffic throughout the replay.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var sent []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			v := fmt.Sprintf("live-%03d", i)
			r.produce(search(v, "tea maker"), search("anon-000", "humidifier"))
			sent = append(sent, v)
		}
	}()
	var last enricher.ReplayProgress
	res, err := enricher.Replay(context.Background(), cfg, enricher.ReplayDeps{
		Kafka: r.kc, Pool: r.pool, Log: testenv.Log(t), Poll: 50 * time.Millisecond,
		Progress: func(p enricher.ReplayProgress) { last = p },
	})
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	r.produce(search("after", "tea maker"))
	r.waitApplied(cfg.Group)
	t.Logf("replayed %d events in %s: %.0f events/s, %d swap attempt(s); last progress %+v; %d live visitors during it",
		res.Events, res.Elapsed, float64(res.Events)/res.Elapsed.Seconds(), res.Swaps, last, len(sent))

	// The same events, the same rules, a fresh enricher, its own database.
	pool2 := testenv.Postgres(t)
	if err := migrations.SeedDemo(context.Background(), pool2); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`UPDATE rule_sets SET half_life_seconds = 1e20 WHERE site_id = 'demo'`,
		`INSERT INTO synonyms (site_id, term, synonyms) VALUES ('demo', 'kettle', '{"tea maker"}')`,
	} {
		if _, err := pool2.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
	fresh := &rig{t: t, kc: r.kc, pool: pool2, producer: r.producer, inspector: r.inspector}
	cfg2 := config(fresh.group())
	fresh.startEnricher(cfg2)
	fresh.waitApplied(cfg2.Group)

	got, want := allScores(t, r.pool), allScores(t, pool2)
	if len(got) != len(want) {
		t.Errorf("%d rows after the replay, %d from a fresh enricher", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-9*max(1, math.Abs(w)) {
			t.Errorf("%v: %v after the replay, %v from a fresh enricher", k, g, w)
		}
	}
	// The new rule reached history, the live traffic and what came after.
	for _, v := range []string{"anon-000", sent[0], sent[len(sent)-1], "after"} {
		if got[[2]string{v, "kettle-deal"}] != searchWeight {
			t.Errorf("%s: kettle-deal %v, want %v", v, got[[2]string{v, "kettle-deal"}], searchWeight)
		}
	}
	var left int
	if err := r.pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM consumer_offsets WHERE group_id = $1) + (SELECT count(*) FROM pg_class WHERE relname LIKE '%_next')`, replayGroup).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d replay offsets or shadow tables left after the swap", left)
	}
}

// allScores is every demo row's score by (user key, promotion).
func allScores(t *testing.T, pool *pgxpool.Pool) map[[2]string]float64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT user_key, promotion_id, score FROM user_promotions WHERE site_id = 'demo'`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[[2]string]float64{}
	var k [2]string
	var s float64
	if _, err := pgx.ForEachRow(rows, []any{&k[0], &k[1], &s}, func() error { out[k] = s; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}
