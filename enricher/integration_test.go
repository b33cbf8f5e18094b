package enricher_test

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// A search gives its visitor the promotions whose keywords it contains,
// however the visitor typed it, with the weight of a search and the search
// as the reason; a search that matches nothing gives nothing.
func TestEnricherSearchPromotesMatchingDeals(t *testing.T) {
	r := newRig(t)
	cfg := config(r.group())
	w := searchWeight
	cases := []struct {
		visitor, keyword string
		id               func(string) string // how the sender spells the event id
		want             map[string]float64
	}{
		{"anon-plural", "Humidifiers ", nil, map[string]float64{"humidifier-deal": w, "humidifier-filters": w}},
		{"anon-phrase", "  electric TEA-KETTLES", nil, map[string]float64{"kettle-deal": w}},
		{"anon-multi", "mist makers", nil, map[string]float64{"humidifier-deal": w}},
		{"anon-nothing", "garden gnomes", nil, map[string]float64{}},
		// A crawler (the collector's bot flag) is nobody's interest.
		{"anon-bot", "humidifier", nil, map[string]float64{}},
		// The contract accepts a UUID in either case (the collector does);
		// some SDKs send upper case.
		{"anon-upper", "humidifier", strings.ToUpper, map[string]float64{"humidifier-deal": w, "humidifier-filters": w}},
	}
	for _, tt := range cases {
		e := search(tt.visitor, tt.keyword)
		e.Bot = tt.visitor == "anon-bot"
		if tt.id != nil {
			e.ID = tt.id(e.ID)
		}
		r.produce(e)
	}
	r.startEnricher(cfg)
	r.waitApplied(cfg.Group)

	for _, tt := range cases {
		t.Run(tt.visitor, func(t *testing.T) {
			scores := map[string]float64{}
			for id, p := range r.promotions(tt.visitor) {
				scores[id] = p.Score
				if kw, ok := strings.CutPrefix(p.Reason, "search:"); !ok || !strings.EqualFold(strings.TrimSpace(kw), strings.TrimSpace(tt.keyword)) {
					t.Errorf("%s reason %q, want the search %q", id, p.Reason, tt.keyword)
				}
				if age := time.Since(p.LastEventAt); age < 0 || age > time.Minute {
					t.Errorf("%s last event at %s, want the search's time", id, p.LastEventAt)
				}
				if d := p.ExpiresAt.Sub(p.LastEventAt); d != cfg.ScoreTTL {
					t.Errorf("%s expires %s after the search, want %s", id, d, cfg.ScoreTTL)
				}
			}
			if !reflect.DeepEqual(scores, tt.want) {
				t.Errorf("search %q gave promotions %v, want %v", tt.keyword, scores, tt.want)
			}
		})
	}
}

// A click on a promotion's page raises that promotion's score for the
// visitor by the click weight; clicks elsewhere change nothing.
func TestEnricherClickOnPromotedPageRaisesScore(t *testing.T) {
	r := newRig(t)
	cfg := config(r.group())
	r.startEnricher(cfg)

	r.produce(search("anon-a", "humidifier"))
	r.waitApplied(cfg.Group)
	before := r.scores("anon-a")
	if want := (map[string]float64{"humidifier-deal": searchWeight, "humidifier-filters": searchWeight}); !reflect.DeepEqual(before, want) {
		t.Fatalf("after the search: %v, want %v", before, want)
	}

	// An absolute link to the deal's page (the catalog has it relative),
	// and one to a page no promotion lands on.
	href := "https://shop.example/demo/search.html?q=humidifier#deals"
	r.produce(click("anon-a", href), click("anon-a", "/demo/search.html?q=blender"), click("anon-b", "http://shop.example/demo/search.html/?q=kettle"))
	r.waitApplied(cfg.Group)

	after := r.promotions("anon-a")
	if got, want := after["humidifier-deal"].Score, searchWeight+clickWeight; got != want {
		t.Errorf("humidifier-deal score after the click = %v, want %v", got, want)
	}
	if got := after["humidifier-deal"].Reason; got != "click:"+href {
		t.Errorf("humidifier-deal reason after the click = %q, want the click", got)
	}
	if got := after["humidifier-filters"].Score; got != searchWeight {
		t.Errorf("humidifier-filters score = %v, want %v: the click was not on its page", got, searchWeight)
	}
	if len(after) != 2 {
		t.Errorf("anon-a has promotions %v, want only the two humidifier ones", after)
	}
	if got, want := r.scores("anon-b"), (map[string]float64{"kettle-deal": clickWeight}); !reflect.DeepEqual(got, want) {
		t.Errorf("a click alone gave anon-b %v, want %v", got, want)
	}
}
