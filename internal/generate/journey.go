package generate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/footfall/footfall/internal/event"
)

// shop draws what visitors see and do: which products are popular, where
// people go next, how long they stay.
type shop struct {
	host      string
	popular   *rand.Zipf // products
	shelves   *rand.Zipf // categories
	typed     *rand.Zipf // keywords
	customers uint32
}

func newShop(r *rand.Rand, site string) *shop {
	return &shop{
		host:    "https://" + site + ".example.com",
		popular: rand.NewZipf(r, 1.07, 2, products-1),
		shelves: rand.NewZipf(r, 1.2, 1, uint64(len(categories)-1)),
		typed:   rand.NewZipf(r, 1.1, 1, uint64(len(keywords)-1)),
	}
}

// step is one way out of a page.
type step struct {
	to     pageKind
	weight float64
}

// onward is where visitors go from each kind of page.
var onward = map[pageKind][]step{
	home:     {{category, 40}, {product, 25}, {results, 20}, {cart, 4}, {register, 3}, {info, 8}},
	category: {{product, 65}, {category, 10}, {results, 10}, {home, 10}, {cart, 5}},
	product:  {{product, 35}, {category, 18}, {cart, 22}, {results, 12}, {home, 8}, {register, 5}},
	results:  {{product, 65}, {results, 15}, {category, 12}, {home, 8}},
	cart:     {{checkout, 50}, {product, 25}, {home, 12}, {category, 13}},
	checkout: {{complete, 55}, {cart, 30}, {home, 15}},
	complete: {{home, 60}, {product, 40}},
	register: {{home, 50}, {product, 30}, {category, 20}},
	info:     {{home, 50}, {category, 30}, {product, 20}},
}

// dwellMedian is the typical time on a kind of page, in seconds.
var dwellMedian = map[pageKind]float64{
	home: 15, category: 25, product: 45, results: 20, cart: 30,
	checkout: 90, complete: 20, register: 60, info: 30,
}

// scrollReach is the share of views of a kind of page that scroll a
// first quarter down.
var scrollReach = map[pageKind]float64{home: 0.6, category: 0.6, product: 0.7, info: 0.5, results: 0.4}

// singlePage is the share of visits that see one page; with the ones
// that still interact on it, about 45 % of visits bounce.
const singlePage = 0.54

// pageCount draws how many pages a visit sees: one, or two to twelve,
// fewer more likely.
func pageCount(r *rand.Rand) int {
	if r.Float64() < singlePage {
		return 1
	}
	n := 2
	for n < 12 && r.Float64() < 0.72 {
		n++
	}
	return n
}

func dwell(r *rand.Rand, k pageKind) int64 {
	s := dwellMedian[k] * math.Exp(0.9*r.NormFloat64())
	s = min(max(s, 2), 25*60) // the beacon would start a new session after 30 minutes
	return int64(s * 1000)
}

func (sh *shop) product(r *rand.Rand) page { return productPage(int(sh.popular.Uint64())) }

// pageOf draws a page of kind k, reached from pg.
func (sh *shop) pageOf(r *rand.Rand, k pageKind, from page) page {
	switch k {
	case product:
		p := sh.product(r)
		if from.kind == category { // a product of the shelf
			c := strings.TrimPrefix(from.path, "/c/")
			for i, name := range categories {
				if name == c {
					n := p.item - p.item%len(categories) + i
					p = productPage(n % products)
				}
			}
		}
		return p
	case category:
		return categoryPage(int(sh.shelves.Uint64()))
	case results: // the keyword is drawn as the visitor searches
		return page{kind: results}
	case info:
		path := infoPages[r.IntN(len(infoPages))]
		return page{kind: info, path: path, title: strings.ToUpper(path[1:2]) + path[2:] + " · " + shopName}
	}
	return fixedPage(k)
}

func (sh *shop) url(pg page, query string) string {
	if pg.query != "" {
		query = pg.query
	}
	if query == "" {
		return sh.host + pg.path
	}
	return sh.host + pg.path + "?" + query
}

// landingQuery is the campaign tags and click id of a landing URL.
func landingQuery(r *rand.Rand, utm *event.UTM, clickID bool) string {
	var q []string
	if utm != nil {
		for _, kv := range [][2]string{{"utm_source", utm.Source}, {"utm_medium", utm.Medium}, {"utm_campaign", utm.Campaign}, {"utm_term", utm.Term}, {"utm_content", utm.Content}} {
			if kv[1] != "" {
				q = append(q, kv[0]+"="+strings.ReplaceAll(kv[1], " ", "+"))
			}
		}
	}
	if clickID {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		id := []byte("Cj0KCQiA")
		for range 40 {
			id = append(id, alphabet[r.IntN(len(alphabet))])
		}
		q = append(q, "gclid="+string(id))
	}
	return strings.Join(q, "&")
}

// link is the element a visitor clicks to reach pg.
func link(pg page) (selector, text string) {
	name := strings.TrimSuffix(pg.title, " · "+shopName)
	switch pg.kind {
	case product:
		return "div.grid > a.product-card", name
	case category:
		return "nav.menu > a", name
	case cart:
		return "header > a.cart-link", "Cart"
	case checkout:
		return "div.summary > a.button.checkout", "Checkout"
	case register:
		return "header > a.account", "Create account"
	case info:
		return "footer > a", name
	}
	return "header > a.logo", shopName
}

func price(item int) float64 { return float64(990+(item*3797)%29000) / 100 }

func sku(item int) string { return fmt.Sprintf("CP-%05d", item) }

// browse makes the events of a person's visit from o starting at ms.
func (sh *shop) browse(vi *visit, o *origin, ms int64) {
	r := vi.r
	utm := o.campaignUTM(r, time.UnixMilli(ms).UTC())
	query := landingQuery(r, utm, o.clickID)
	referrer := o.referrers[r.IntN(len(o.referrers))]
	pg := sh.pageOf(r, landingKinds[pick(r, 3, func(i int) float64 { return o.landing[i] })], page{})
	pages := pageCount(r)
	var basket float64
	var items int
	for i := 0; ; i++ {
		u := sh.url(pg, query)
		w := vi.view(pg, u, referrer, utm)
		vi.emit(ms, event.Pageview, w)
		stay := dwell(r, pg.kind)
		last := i == pages-1
		vi.scrolls(ms, stay, w, scrollReach[pg.kind])
		var next page
		if !last {
			next = sh.pageOf(r, onward[pg.kind][pick(r, len(onward[pg.kind]), func(j int) float64 { return onward[pg.kind][j].weight })].to, pg)
		}
		// What the visitor does on the page before leaving it.
		switch {
		case pg.kind == product && (next.kind == cart || r.Float64() < 0.1):
			at := ms + stay*7/10
			vi.click(at, w, "form.buy > button.add-to-cart", "Add to cart", "", "button")
			vi.custom(at+120, w, "add_to_cart", map[string]any{"sku": sku(pg.item), "price": price(pg.item), "currency": "EUR"})
			basket, items = basket+price(pg.item), items+1
		case pg.kind == complete:
			vi.custom(ms+800, w, "purchase", map[string]any{"revenue": math.Round(max(basket, 24.9)*100) / 100, "items": float64(max(items, 1)), "currency": "EUR"})
			basket, items = 0, 0
		case pg.kind == register && vi.uid == "":
			at := ms + stay*8/10
			vi.form(at, w, "register", sh.host+"/account/register")
			methods := []string{"email", "email", "google"}
			vi.custom(at+300, w, "signup", map[string]any{"method": methods[r.IntN(len(methods))]})
			sh.customers++
			vi.v.customer = sh.customers
			vi.uid = fmt.Sprintf("cust-%d", sh.customers)
			vi.emit(at+400, event.Identify, w) // carries the new user id
		}
		if r.Float64() < 0.015 {
			vi.form(ms+stay*9/10, w, "newsletter", sh.host+"/newsletter")
		}
		if last {
			if r.Float64() < 0.08 {
				e := vi.click(ms+stay, w, "footer > a.social", "Instagram", "https://www.instagram.com/copperpotkitchen/", "a")
				e.Props = map[string]any{"outbound": true}
			}
			return
		}
		// How the visitor leaves: a search, the checkout form, a link
		// (or the back button and typed URLs, which send no click).
		leave := ms + stay
		switch {
		case next.kind == results:
			keyword, found := drawSearch(r, sh.typed)
			vi.search(leave, w, keyword, found)
			next = resultsPage(keyword)
		case pg.kind == checkout && next.kind == complete:
			vi.form(leave, w, "checkout", sh.host+"/checkout/pay")
		case r.Float64() < 0.85:
			sel, text := link(next)
			vi.click(leave, w, sel, text, sh.url(next, ""), "a")
		}
		ms = leave + 300 + r.Int64N(1200)
		referrer, utm, query, pg = u, nil, "", next
	}
}

// crawl makes the page views of a bot: many pages, seconds apart, the
// long tail as much as the head, and nothing else.
func (sh *shop) crawl(vi *visit, ms int64) {
	r := vi.r
	pages := 3
	for pages < 40 && r.Float64() < 0.88 {
		pages++
	}
	referrer := ""
	for range pages {
		pg := productPage(r.IntN(products))
		switch x := r.Float64(); {
		case x < 0.1:
			pg = fixedPage(home)
		case x < 0.3:
			pg = categoryPage(r.IntN(len(categories)))
		}
		u := sh.url(pg, "")
		vi.emit(ms, event.Pageview, vi.view(pg, u, referrer, nil))
		referrer = u
		ms += 1000 + r.Int64N(5000)
	}
}
