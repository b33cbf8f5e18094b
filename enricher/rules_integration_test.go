package enricher_test

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
)

// view is a visitor's page view of url, stamped as the collector does.
func view(visitor, url string) *event.Event {
	now := time.Now()
	return &event.Event{
		ID: newID(), Type: event.Pageview, TS: now.UnixMilli(), AnonymousID: visitor,
		Page:   &event.Page{URL: "https://shop.example" + url, Path: url},
		SiteID: site, ReceivedAt: now.UnixMilli(),
	}
}

// exec runs sql on the rig's database.
func (r *rig) exec(sql string, args ...any) {
	r.t.Helper()
	if _, err := r.pool.Exec(context.Background(), sql, args...); err != nil {
		r.t.Fatal(err)
	}
}

// ruleVersion is the demo site's rule-set version.
func (r *rig) ruleVersion() int64 {
	r.t.Helper()
	var v int64
	if err := r.pool.QueryRow(context.Background(), `SELECT version FROM rule_sets WHERE site_id = $1`, site).Scan(&v); err != nil {
		r.t.Fatal(err)
	}
	return v
}

// The demo rules: searches match stems and the shop's synonyms, a product
// page's view or a click to it scores its category's promotions, each
// signal with its weight; every row records the rule set that computed it,
// and a page view that matches nothing leaves no trace.
func TestEnricherAppliesTheSiteRules(t *testing.T) {
	r := newRig(t)
	cfg := config(r.group())
	r.produce(
		search("anon-stem", "humidifying"),
		search("anon-synonym", "best air moisturisers"),
		view("anon-view", "/demo/product.html?id=tower-fan"),
		click("anon-click", "/demo/product.html?id=steel-kettle"),
		view("anon-home", "/demo/index.html"),
	)
	r.startEnricher(cfg)
	r.waitApplied(cfg.Group)

	humid := map[string]float64{"humidifier-deal": searchWeight, "humidifier-filters": searchWeight}
	climate := map[string]float64{"humidifier-deal": viewWeight, "humidifier-filters": viewWeight, "fan-deal": viewWeight}
	for visitor, want := range map[string]map[string]float64{
		"anon-stem": humid, "anon-synonym": humid, "anon-view": climate,
		"anon-click": {"kettle-deal": clickWeight}, "anon-home": {},
	} {
		if got := r.scores(visitor); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", visitor, got, want)
		}
	}
	if got := r.promotions("anon-view")["fan-deal"].Reason; got != "view:/demo/product.html?id=tower-fan" {
		t.Errorf("a product view's reason %q", got)
	}
	var stale, processed int
	if err := r.pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM user_promotions WHERE rule_version <> $1), (SELECT count(*) FROM processed_events)`, r.ruleVersion()).Scan(&stale, &processed); err != nil {
		t.Fatal(err)
	}
	if stale != 0 || processed != 4 {
		t.Errorf("%d rows from another rule version (want 0); %d processed events (want 4: the home page view changed nothing)", stale, processed)
	}

	// Any edit of the rules is a new version.
	before := r.ruleVersion()
	r.exec(`INSERT INTO synonyms (site_id, term, synonyms) VALUES ($1, 'kettle', '{"tea maker"}')`, site)
	r.exec(`UPDATE rule_sets SET view_weight = 3 WHERE site_id = $1`, site)
	r.exec(`DELETE FROM product_categories WHERE site_id = $1 AND page = '/demo/product.html?id=desk-fan'`, site)
	if got := r.ruleVersion(); got != before+3 {
		t.Errorf("three rule edits took the version from %d to %d", before, got)
	}
}

// A score halves every half-life: two searches one half-life apart are
// worth 10·½ + 10, whichever arrives first; the promotions API decays the
// stored score to the time it answers (decayed, the SQL twin of
// enricher.Decayed); and the cap bounds a score.
func TestEnricherDecaysAndCapsScores(t *testing.T) {
	r := newRig(t)
	cfg := config(r.group())
	r.exec(`UPDATE rule_sets SET half_life_seconds = 3600, max_score = 25 WHERE site_id = $1`, site)
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	at := func(e *event.Event, ts time.Time) *event.Event {
		e.ReceivedAt = ts.UnixMilli()
		return e
	}
	r.produce(at(search("anon-late", "kettle"), t0.Add(time.Hour)), at(search("anon-late", "kettle"), t0))
	for range 5 {
		r.produce(search("anon-capped", "kettle"))
	}
	r.startEnricher(cfg)
	r.waitApplied(cfg.Group)

	got := r.promotions("anon-late")["kettle-deal"]
	if math.Abs(got.Score-15) > 1e-9 || !got.LastEventAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("two searches an hour apart: %v as of %v, want 15 as of %v", got.Score, got.LastEventAt, t0.Add(time.Hour))
	}
	var worth float64
	if err := r.pool.QueryRow(context.Background(), `
		SELECT decayed(score, last_event_at, last_event_at + interval '1 hour', half_life_seconds)
		FROM user_promotions WHERE user_key = 'anon-late' AND promotion_id = 'kettle-deal'`).Scan(&worth); err != nil {
		t.Fatal(err)
	}
	if math.Abs(worth-7.5) > 1e-9 {
		t.Errorf("one half-life later the score is worth %v, want 7.5", worth)
	}
	if goWorth := enricher.Decayed(got.Score, got.LastEventAt, got.LastEventAt.Add(time.Hour), 3600); math.Abs(goWorth-worth) > 1e-9 {
		t.Errorf("enricher.Decayed says %v, SQL decayed %v", goWorth, worth)
	}
	if got := r.scores("anon-capped")["kettle-deal"]; math.Abs(got-25) > 1e-6 {
		t.Errorf("five searches under a cap of 25: %v", got)
	}
}

// Expired rows are deleted by the periodic prune, and counted.
func TestEnricherPrunesExpiredScores(t *testing.T) {
	r := newRig(t)
	cfg := config(r.group())
	r.exec(`
		INSERT INTO user_promotions (site_id, user_key, promotion_id, score, reason, last_event_at, expires_at) VALUES
		  ($1, 'anon-old', 'kettle-deal', 10, 'search:kettle', now() - interval '40 days', now() - interval '10 days'),
		  ($1, 'anon-new', 'kettle-deal', 10, 'search:kettle', now(), now() + interval '30 days')`, site)
	ops := server.NewOps()
	r.startEnricherWith(cfg, ops)
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		n := counter(t, ops, "footfall_enricher_expired_pruned_total", nil)
		return n == 1, fmt.Sprintf("pruned so far: %v", n)
	})
	if got := r.scores("anon-old"); len(got) != 0 {
		t.Errorf("the expired row is still there: %v", got)
	}
	if got := r.scores("anon-new"); len(got) != 1 {
		t.Errorf("the live row went: %v", got)
	}
}
