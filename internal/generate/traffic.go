package generate

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/footfall/footfall/internal/event"
)

// origin is where a visit comes from: the referrer the browser sends and
// the campaign tags of the landing URL. The loader names the source and
// channel from them, as it does for real traffic.
type origin struct {
	name      string
	referrers []string // one is drawn; "" is none
	utm       []event.UTM
	utmShare  float64 // share of visits whose landing URL has a tag
	clickID   bool    // paid search: the ad platform appends gclid
	landing   [3]float64
	// weights for a first visit and for a returning visitor
	first, again float64
}

// Landing pages: home, a category, a product.
var landingKinds = [3]pageKind{home, category, product}

var origins = []origin{
	{name: "direct", referrers: []string{""}, landing: [3]float64{60, 12, 28}, first: 22, again: 45},
	{name: "google", referrers: []string{"https://www.google.com/", "https://www.google.com/", "https://www.google.com/", "https://www.google.de/", "https://www.google.co.uk/"},
		landing: [3]float64{15, 30, 55}, first: 30, again: 18},
	{name: "bing", referrers: []string{"https://www.bing.com/"}, landing: [3]float64{20, 30, 50}, first: 4, again: 3},
	{name: "duckduckgo", referrers: []string{"https://duckduckgo.com/"}, landing: [3]float64{20, 30, 50}, first: 2, again: 1.5},
	{name: "google ads", referrers: []string{"https://www.google.com/"}, clickID: true, utmShare: 1,
		utm: []event.UTM{
			{Source: "google", Medium: "cpc", Campaign: "brand_search", Term: "copper pot"},
			{Source: "google", Medium: "cpc", Campaign: "knives_generic", Term: "chef knife"},
			{Source: "google", Medium: "cpc", Campaign: "knives_generic", Term: "japanese knife"},
			{Source: "google", Medium: "cpc", Campaign: "coffee_generic", Term: "pour over coffee"},
			{Source: "google", Medium: "cpc", Campaign: "winter_sale", Term: "cast iron sale"},
		},
		landing: [3]float64{0, 30, 70}, first: 8, again: 3},
	{name: "facebook", referrers: []string{"https://l.facebook.com/", "https://m.facebook.com/"}, utmShare: 0.4,
		utm: []event.UTM{
			{Source: "facebook", Medium: "social", Campaign: "winter_sale", Content: "carousel"},
			{Source: "facebook", Medium: "social", Campaign: "new_knives", Content: "video"},
		},
		landing: [3]float64{10, 20, 70}, first: 5, again: 3},
	{name: "instagram", referrers: []string{"https://l.instagram.com/"}, utmShare: 0.5,
		utm:     []event.UTM{{Source: "instagram", Medium: "social", Campaign: "new_knives", Content: "story"}},
		landing: [3]float64{10, 20, 70}, first: 3, again: 2},
	{name: "twitter", referrers: []string{"https://t.co/x7Qp2LmZaB", "https://t.co/Kd83hsPq1z"}, landing: [3]float64{20, 20, 60}, first: 1.5, again: 1},
	{name: "pinterest", referrers: []string{"https://www.pinterest.com/"}, landing: [3]float64{5, 25, 70}, first: 2, again: 1},
	{name: "reddit", referrers: []string{"https://www.reddit.com/r/cooking/", "https://www.reddit.com/r/chefit/", "https://www.reddit.com/r/castiron/"},
		landing: [3]float64{10, 20, 70}, first: 1.5, again: 1},
	{name: "blogs", referrers: []string{
		"https://www.seriouseats.com/best-chefs-knives", "https://www.seriouseats.com/best-chefs-knives",
		"https://www.bonappetit.com/story/best-cast-iron", "https://food52.com/blog/gift-guide",
		"https://www.kitchenknifeforums.com/threads/santoku", "https://www.mydealz.de/deals/copper-pot-winter-sale",
	}, landing: [3]float64{10, 20, 70}, first: 5, again: 2},
	{name: "newsletter", referrers: []string{"", "", "", "https://mail.google.com/", "https://outlook.live.com/"}, utmShare: 1,
		utm:     []event.UTM{{Source: "newsletter", Medium: "email", Content: "hero"}, {Source: "newsletter", Medium: "email", Content: "product_grid"}},
		landing: [3]float64{20, 40, 40}, first: 6, again: 15},
}

// newsletterDay is when the shop's weekly newsletter goes out: e-mail
// traffic triples that day.
const newsletterDay = time.Tuesday

// pickOrigin draws where a visit on day comes from.
func pickOrigin(r *rand.Rand, returning bool, day time.Weekday) *origin {
	return &origins[pick(r, len(origins), func(i int) float64 {
		o := &origins[i]
		w := o.first
		if returning {
			w = o.again
		}
		if o.name == "newsletter" && day == newsletterDay {
			w *= 3
		}
		return w
	})]
}

// campaignUTM returns o's tags for a visit at t, or nil; the newsletter's
// campaign is its week.
func (o *origin) campaignUTM(r *rand.Rand, t time.Time) *event.UTM {
	if len(o.utm) == 0 || r.Float64() >= o.utmShare {
		return nil
	}
	u := o.utm[r.IntN(len(o.utm))]
	if u.Campaign == "" {
		y, w := t.ISOWeek()
		u.Campaign = fmt.Sprintf("weekly_%d_w%02d", y, w)
	}
	return &u
}

// hourShape is traffic by hour of day (UTC; the shop's visitors are
// mostly in Europe): a night trough and an evening peak.
var hourShape = [24]float64{
	0.35, 0.22, 0.15, 0.12, 0.12, 0.18, 0.35, 0.60, 0.80, 0.90, 0.95, 1.00,
	1.00, 0.95, 0.95, 0.95, 1.00, 1.05, 1.15, 1.25, 1.20, 1.00, 0.75, 0.50,
}

// dayShape is traffic by weekday, Sunday first: shoppers browse on Sunday
// evenings and less on Fridays and Saturdays.
var dayShape = [7]float64{1.10, 1.05, 1.00, 0.98, 0.95, 0.85, 0.80}

// hourWeights gives each hour of the span its share of the traffic: the
// hour and weekday shapes, a slow growth over the span and a little
// day-to-day noise drawn from r.
func hourWeights(r *rand.Rand, start time.Time, hours int) []float64 {
	out := make([]float64, hours)
	noise := 1.0
	for h := range out {
		t := start.Add(time.Duration(h) * time.Hour)
		if h%24 == 0 {
			noise = 0.9 + 0.2*r.Float64()
		}
		growth := 1 + 0.15*float64(h)/float64(hours)
		out[h] = hourShape[t.Hour()] * dayShape[t.Weekday()] * growth * noise
	}
	return out
}

// pick draws an index below n with probability proportional to weight(i).
func pick(r *rand.Rand, n int, weight func(int) float64) int {
	total := 0.0
	for i := range n {
		total += weight(i)
	}
	x := r.Float64() * total
	for i := range n {
		if x -= weight(i); x < 0 {
			return i
		}
	}
	return n - 1
}

func weekday(ms int64) time.Weekday { return time.UnixMilli(ms).UTC().Weekday() }
