package enricher

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
)

func TestTerms(t *testing.T) {
	for in, want := range map[string][]string{
		"Humidifiers":            {"humidifi"},
		"humidifying":            {"humidifi"},
		"  best   HUMIDIFIER!! ": {"best", "humidifi"},
		"batteries & boxes":      {"batteri", "box"},
		"glasses":                {"glass"},
		"tea-kettles":            {"tea", "kettl"},
		"the kettle":             {"the", "kettl"},
		"":                       {},
	} {
		if got := terms(in); !reflect.DeepEqual(got, want) {
			t.Errorf("terms(%q) = %v, want %v", in, got, want)
		}
	}
}

func ids(ps []promotion) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func TestMatchSearch(t *testing.T) {
	s := &site{
		promos: []promotion{
			newPromotion("hum", "", 10, []string{"humidifier", "mist maker"}, []string{"home-climate"}),
			newPromotion("filter", "", 5, []string{"humidifier filter"}, nil),
			newPromotion("kettle", "", 10, []string{"kettle"}, []string{"kitchen"}),
		},
		synonyms: []synonym{{term: terms("humidifier"), phrases: [][]string{terms("air moisturiser"), terms("vaporizer")}}},
	}
	for search, want := range map[string][]string{
		"humidifier":          {"hum"},
		"Humidifiers":         {"hum"},
		"humidifying":         {"hum"},
		"HUMIDIFIER filters":  {"hum", "filter"},
		"mist makers":         {"hum"},
		"maker mist":          nil,
		"electric tea kettle": {"kettle"},
		"fan":                 nil,
		// Synonyms: the shop's words for a term, stemmed as well.
		"best air moisturisers": {"hum"},
		"vaporizers":            {"hum"},
		"air":                   nil,
		// A category is a keyword.
		"kitchen": {"kettle"},
	} {
		if got := ids(matchSearch(s, search)); !reflect.DeepEqual(got, want) {
			t.Errorf("search %q matched %v, want %v", search, got, want)
		}
	}
}

func TestSamePage(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"https://shop.example/demo/search.html?q=humidifier", "/demo/search.html?q=humidifier", true},
		{"/p/kettle/", "/p/kettle", true},
		{"/p/kettle?a=1&b=2", "/p/kettle?b=2&a=1", true},
		{"/p/kettle", "/p/fan", false},
		{"", "/p/fan", false},
	} {
		if got := samePage(tt.a, tt.b); got != tt.want {
			t.Errorf("samePage(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

// demoSite is a catalog with landing pages and product pages.
func demoSite() *site {
	page := func(u string, cats ...string) productPage {
		p, _ := pageOf(u)
		return productPage{page: p, categories: cats}
	}
	return &site{
		promos: []promotion{
			newPromotion("kettle", "/demo/search.html?q=kettle", 10, nil, []string{"kitchen"}),
			newPromotion("welcome", "/demo/index.html", 100, nil, nil),
			newPromotion("shipping", "/demo/index.html", 50, nil, nil),
			newPromotion("broken", "", 1, nil, nil),
			newPromotion("fan", "/demo/search.html?q=fan", 10, nil, []string{"home-climate"}),
			newPromotion("humidifier", "/demo/search.html?q=humidifier", 10, nil, []string{"home-climate"}),
		},
		pages: []productPage{
			page("/demo/product.html?id=steel-kettle", "kitchen"),
			page("/p/climate", "home-climate"),
		},
	}
}

func TestMatchClick(t *testing.T) {
	s := demoSite()
	for href, want := range map[string][]string{
		"https://shop.example/demo/search.html?q=kettle": {"kettle"},
		"/demo/index.html/":       {"welcome", "shipping"},
		"/demo/search.html?q=fan": {"fan"},
		"/demo/search.html?q=saw": nil,
		"":                        nil,
		"https://shop.example":    nil,
		// A product page: its category's promotions.
		"/demo/product.html?id=steel-kettle&ref=home": {"kettle"},
	} {
		if got := ids(matchClick(s, href)); !reflect.DeepEqual(got, want) {
			t.Errorf("click on %q matched %v, want %v", href, got, want)
		}
	}
}

// A product page view scores the promotions of the page's categories.
func TestMatchView(t *testing.T) {
	s := demoSite()
	for u, want := range map[string][]string{
		"https://shop.example/demo/product.html?id=steel-kettle": {"kettle"},
		"/demo/product.html?id=glass-kettle":                     nil,
		"/demo/product.html":                                     nil,
		"/p/climate/tower-fan":                                   {"fan", "humidifier"},
		"/p/climate":                                             {"fan", "humidifier"},
		"/p/climates":                                            nil,
		"/demo/index.html":                                       nil,
	} {
		if got := ids(matchView(s, u)); !reflect.DeepEqual(got, want) {
			t.Errorf("view of %q matched %v, want %v", u, got, want)
		}
	}
}

// A score is half as large one half-life later, whatever order the
// events come in, and never above the cap.
func TestDecayAndCap(t *testing.T) {
	const halfLife = 3600.0
	t0 := time.UnixMilli(1_700_000_000_000)
	later := t0.Add(time.Hour)
	if got := Decayed(10, t0, later, halfLife); got != 5 {
		t.Errorf("10 points one half-life on = %v, want 5", got)
	}
	if got := Decayed(10, later, t0, halfLife); got != 10 {
		t.Errorf("decayed backwards = %v, want 10", got)
	}
	r := rules{version: 3, searchWeight: 10, halfLife: halfLife, maxScore: 100}
	s := &site{promos: []promotion{newPromotion("hum", "", 1, []string{"humidifier"}, nil)}, rules: r}
	search := func(at time.Time) *event.Event {
		return &event.Event{ID: "x", Type: event.Search, SiteID: "demo", AnonymousID: "a", ReceivedAt: at.UnixMilli(), Search: &event.SearchDetail{Keyword: "humidifier"}}
	}
	for _, order := range [][]time.Time{{t0, later}, {later, t0}} {
		scores := map[scoreKey]*score{}
		for _, at := range order {
			ev := search(at)
			interestOf(s, ev).addTo(scores, ev)
		}
		got := scores[scoreKey{"demo", "a", "hum"}]
		if got.points != 15 || !got.last.Equal(later) || got.rules.version != 3 {
			t.Errorf("searches at %v: %v points as of %v (rules %d), want 15 as of %v (rules 3)", order, got.points, got.last, got.rules.version, later)
		}
	}

	s.rules.maxScore = 25
	scores := map[scoreKey]*score{}
	for range 5 {
		ev := search(t0)
		interestOf(s, ev).addTo(scores, ev)
	}
	if got := scores[scoreKey{"demo", "a", "hum"}].points; math.Abs(got-25) > 1e-9 {
		t.Errorf("five searches under a cap of 25: %v", got)
	}
}
