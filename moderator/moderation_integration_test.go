package moderator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/moderator"
	"github.com/footfall/footfall/reviews"
)

// A clean review becomes visible to everyone once the moderator approved
// it; a review with a banned word, however spelled, never does, while its
// author sees it pending, then rejected with the rule that decided.
func TestCleanReviewIsShownAndABadOneNeverIs(t *testing.T) {
	r := newRig(t)
	r.rules("banned_words", []string{"hate"})

	clean := r.review("alice", "kettle", "Quick", "Boils in two minutes, quiet, and the lid closes well.")
	bad := r.review("carol", "kettle", "No", "I h4te this k3ttle, the handle melts.")

	// No moderator yet: each author sees their own review pending, nobody
	// else sees either.
	if got := r.get("kettle", "bob"); len(got.Reviews) != 0 || len(got.ViewerReviews) != 0 {
		t.Fatalf("before moderation a shopper sees %+v", got)
	}
	for author, id := range map[string]string{"alice": clean, "carol": bad} {
		got := r.get("kettle", author)
		if rv, ok := find(got.ViewerReviews, id); !ok || rv.Status != reviews.Pending || len(got.Reviews) != 0 {
			t.Fatalf("%s sees %+v, want their review pending and nothing approved", author, got)
		}
	}

	r.startModerator(r.config())
	public, _, visible := r.waitDecided("kettle", "alice", clean)
	if !visible || public.Status != reviews.Approved || public.Rule != "" {
		t.Fatalf("the clean review: visible %v, %+v", visible, public)
	}
	_, own, visible := r.waitDecided("kettle", "carol", bad)
	if visible || own.Status != reviews.Rejected || own.Rule != "banned_word:hate" || own.Reason == "" {
		t.Fatalf("the bad review: visible %v, its author sees %+v", visible, own)
	}
	for _, viewer := range []string{"", "bob", "alice"} {
		got := r.get("kettle", viewer)
		if _, ok := find(got.Reviews, bad); ok || len(got.Reviews) != 1 {
			t.Errorf("viewer %q sees %+v", viewer, got.Reviews)
		}
		if _, ok := find(got.ViewerReviews, bad); ok {
			t.Errorf("viewer %q is shown carol's rejected review", viewer)
		}
	}
	if _, rule, version := r.status(bad); rule != "banned_word:hate" || version < 2 {
		t.Errorf("stored decision: rule %q version %d", rule, version)
	}
}

// Links, repeated text and too many reviews from one author are each
// rejected under their own rule.
func TestLinksRepeatsAndAuthorRate(t *testing.T) {
	r := newRig(t)
	r.rules("max_links, author_max_reviews, author_window_seconds", 0, 2, 3600)
	r.startModerator(r.config())

	link := r.review("dave", "fan", "Deal", "Cheaper at cheapkettles.com/deals, go there")
	echo := "Good fan, strong and quiet enough for the bedroom."
	first := r.review("frank", "fan", "", echo)
	again := r.review("frank", "heater", "", "good fan -- strong and QUIET enough for the bedroom!!")
	spam := r.review("gina", "fan", "", "buy now buy now buy now buy now buy now buy now")
	erin := []string{
		r.review("erin", "fan", "", "Nice colour."),
		r.review("erin", "heater", "", "Warms the room fast."),
		r.review("erin", "kettle", "", "Loud whistle."),
	}

	for _, tc := range []struct {
		product, author, id, status, rule string
	}{
		{"fan", "dave", link, reviews.Rejected, moderator.RuleLinks},
		{"fan", "frank", first, reviews.Approved, ""},
		{"heater", "frank", again, reviews.Rejected, moderator.RuleRepeatedText},
		{"fan", "gina", spam, reviews.Rejected, moderator.RuleRepeatedText},
		{"fan", "erin", erin[0], reviews.Approved, ""},
		{"heater", "erin", erin[1], reviews.Approved, ""},
		{"kettle", "erin", erin[2], reviews.Rejected, moderator.RuleAuthorRate},
	} {
		public, own, visible := r.waitDecided(tc.product, tc.author, tc.id)
		got := own
		if visible {
			got = public
		}
		if got.Status != tc.status || got.Rule != tc.rule || visible != (tc.status == reviews.Approved) {
			t.Errorf("%s's review of %s: %s %q (visible %v), want %s %q", tc.author, tc.product, got.Status, got.Rule, visible, tc.status, tc.rule)
		}
	}
}

// A site's classifier hook is asked about reviews that passed every local
// rule: flagged is rejected with its reason; a failing hook is retried,
// never taken for an approval, and the review is decided once it answers.
func TestClassifierHook(t *testing.T) {
	r := newRig(t)
	var calls atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		var in struct{ Text string }
		if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		flagged := strings.Contains(in.Text, "competitor")
		_ = json.NewEncoder(w).Encode(map[string]any{"flagged": flagged, "reason": "mentions a competitor"})
	}))
	t.Cleanup(hook.Close)
	r.rules("classifier_url", hook.URL)

	fine := r.review("hana", "kettle", "", "Does what it says.")
	r.startModerator(r.config())
	public, _, visible := r.waitDecided("kettle", "hana", fine)
	if !visible || public.Status != reviews.Approved {
		t.Fatalf("after the hook recovered: visible %v %+v", visible, public)
	}
	if n := calls.Load(); n < 3 {
		t.Fatalf("the hook was called %d times: the failures were not retried", n)
	}
	flagged := r.review("ivan", "kettle", "", "The competitor sells it for less.")
	_, own, visible := r.waitDecided("kettle", "ivan", flagged)
	if visible || own.Status != reviews.Rejected || own.Rule != moderator.RuleClassifier || own.Reason != "mentions a competitor" {
		t.Fatalf("a flagged review: visible %v, %+v", visible, own)
	}
}

// After a rule change, a replay re-decides earlier reviews under the new
// version: a newly banned word flips an approved review to rejected, and
// the change is recorded.
func TestReplayAfterRuleChangeFlipsADecision(t *testing.T) {
	r := newRig(t)
	r.rules("banned_words", []string{"hate"})
	r.startModerator(r.config())
	meh := r.review("jane", "kettle", "", "Meeeh. It boils, that is all.")
	ok := r.review("kim", "kettle", "", "Lovely kettle.")
	for _, id := range []string{meh, ok} {
		if _, _, visible := r.waitDecided("kettle", "", id); !visible {
			t.Fatalf("review %s not approved under the first rules", id)
		}
	}
	_, _, before := r.status(meh)

	r.exec(`UPDATE moderation_rules SET banned_words = array_append(banned_words, 'meh') WHERE site_id = $1`, site)
	var progress []int64
	res, err := moderator.Replay(context.Background(), moderator.ReplayDeps{
		Pool: r.pool, Log: testenv.Log(t), Site: site, Reg: server.NewRegistry(),
		Progress: func(done, total int64) { progress = append(progress, done, total) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reviews != 2 || res.Changed != 1 || len(progress) == 0 || progress[len(progress)-2] != 2 {
		t.Fatalf("replay: %+v, progress %v", res, progress)
	}
	status, rule, after := r.status(meh)
	if status != reviews.Rejected || rule != "banned_word:meh" || after != before+1 {
		t.Fatalf("after the replay: %s %q version %d (was %d)", status, rule, after, before)
	}
	if _, _, v := r.status(ok); v != after {
		t.Errorf("the unchanged review is stamped with version %d, want %d", v, after)
	}
	got := r.get("kettle", "jane")
	if _, shown := find(got.Reviews, meh); shown {
		t.Errorf("the rejected review is still shown: %+v", got.Reviews)
	}
	if rv, mine := find(got.ViewerReviews, meh); !mine || rv.Status != reviews.Rejected {
		t.Errorf("its author sees %+v", got.ViewerReviews)
	}
	var oldStatus, oldRule, newStatus, newRule string
	var oldVersion, newVersion int64
	if err := r.pool.QueryRow(context.Background(), `
		SELECT old_status, old_rule, old_version, new_status, new_rule, new_version FROM moderation_changes WHERE site_id = $1 AND review_id = $2`, site, meh).
		Scan(&oldStatus, &oldRule, &oldVersion, &newStatus, &newRule, &newVersion); err != nil {
		t.Fatal(err)
	}
	if oldStatus != reviews.Approved || oldRule != "" || oldVersion != before || newStatus != reviews.Rejected || newRule != "banned_word:meh" || newVersion != after {
		t.Errorf("recorded change: %s %q v%d -> %s %q v%d", oldStatus, oldRule, oldVersion, newStatus, newRule, newVersion)
	}

	// A second replay under the same rules changes nothing.
	res, err = moderator.Replay(context.Background(), moderator.ReplayDeps{Pool: r.pool, Log: testenv.Log(t)})
	if err != nil || res.Changed != 0 {
		t.Fatalf("second replay: %+v %v", res, err)
	}
}

// A review whose Kafka record never came is decided by the sweep.
func TestSweepDecidesReviewsKafkaNeverCarried(t *testing.T) {
	r := newRig(t)
	r.exec(`INSERT INTO reviews (site_id, id, product_id, author_id, rating, body, created_at)
		VALUES ($1, 'lost-1', 'kettle', 'lena', 5, 'Fine kettle.', now() - interval '1 minute')`, site)
	cfg := r.config()
	cfg.SweepAfter, cfg.SweepEvery = time.Second, 50*time.Millisecond
	r.startModerator(cfg)
	if _, _, visible := r.waitDecided("kettle", "lena", "lost-1"); !visible {
		t.Fatal("the swept review is not approved")
	}
}

// A record that is no review goes to the dead-letter topic with the
// reason, and blocks no review behind it.
func TestRecordThatIsNoReviewIsDeadLettered(t *testing.T) {
	r := newRig(t)
	testenv.PublishRecords(t, r.pub, kafka.Record{Topic: reviews.Topic(r.kc.TopicPrefix), Key: []byte(site + ":mallory"), Value: []byte(`{"not":"a review"`)})
	r.startModerator(r.config())
	id := r.review("mallory", "kettle", "", "Fine kettle.")
	if _, _, visible := r.waitDecided("kettle", "mallory", id); !visible {
		t.Fatal("the review behind the bad record was not approved")
	}
	in := testenv.Inspector(t, r.kc)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		all, err := in.ReadAll(context.Background(), event.DeadTopic(r.kc.TopicPrefix))
		dead := all[event.DeadTopic(r.kc.TopicPrefix)]
		if err != nil || len(dead) != 1 {
			return false, fmt.Sprintf("%d dead letters (%v)", len(dead), err)
		}
		reason := string(dead[0].Header(kafka.HeaderDeadReason))
		return strings.Contains(reason, "not a review"), "reason " + reason
	})
}
