package generate

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
)

// The shop: a kitchen supply store with a long tail of products, a dozen
// categories, site search, a cart, a checkout and an account page.

// pageKind is what a page is, which decides where a visitor goes next and
// what they do there.
type pageKind uint8

const (
	home pageKind = iota
	category
	product
	results // the search results page
	cart
	checkout
	complete // the order confirmation
	register
	info // about, contact, shipping: leaf pages
)

// page is one page of the shop.
type page struct {
	kind  pageKind
	path  string
	query string // "" or "q=…" without the "?"
	title string
	item  int // product number on product pages
}

const shopName = "Copper Pot"

var categories = []string{
	"knives", "cookware", "bakeware", "utensils", "coffee", "tea",
	"tableware", "storage", "appliances", "textiles", "grills", "gifts",
}

// products in the catalog; their popularity is a Zipf curve, so a few
// sell most and most are seen a few times a month.
const products = 4000

var productNouns = []string{
	"Chef Knife", "Skillet", "Loaf Pan", "Whisk", "Pour-Over Set", "Teapot",
	"Dinner Plate", "Glass Jar", "Stand Mixer", "Apron", "Grill Pan", "Gift Box",
}

var productAdjectives = []string{
	"Classic", "Pro", "Copper", "Cast Iron", "Ceramic", "Carbon Steel",
	"Walnut", "Enamel", "Stoneware", "Compact", "Heritage", "Everyday",
}

var infoPages = []string{"/about", "/contact", "/shipping", "/returns"}

func productPage(n int) page {
	cat := n % len(categories)
	name := productAdjectives[(n/len(categories))%len(productAdjectives)] + " " + productNouns[cat]
	return page{kind: product, path: fmt.Sprintf("/p/%d", n), title: name + " · " + shopName, item: n}
}

func categoryPage(i int) page {
	c := categories[i]
	return page{kind: category, path: "/c/" + c, title: strings.ToUpper(c[:1]) + c[1:] + " · " + shopName}
}

func resultsPage(keyword string) page {
	return page{kind: results, path: "/search", query: "q=" + url.QueryEscape(keyword), title: "Search: " + keyword + " · " + shopName}
}

func fixedPage(k pageKind) page {
	switch k {
	case cart:
		return page{kind: cart, path: "/cart", title: "Cart · " + shopName}
	case checkout:
		return page{kind: checkout, path: "/checkout", title: "Checkout · " + shopName}
	case complete:
		return page{kind: complete, path: "/checkout/complete", title: "Thank you · " + shopName}
	case register:
		return page{kind: register, path: "/account/register", title: "Create an account · " + shopName}
	}
	return page{kind: home, path: "/", title: shopName + " · Kitchen supply"}
}

// keywords shoppers search for, most frequent first; the catalog has them.
var keywords = []string{
	"chef knife", "cast iron", "dutch oven", "coffee grinder", "santoku",
	"frying pan", "knife set", "pour over", "kettle", "cutting board",
	"whetstone", "baking sheet", "mixing bowl", "french press", "teapot",
	"wok", "spatula", "measuring cups", "tea infuser", "bread knife",
	"stand mixer", "apron", "espresso cups", "saucepan", "grill pan",
	"storage jars", "tongs", "peeler", "salad bowl", "oven gloves",
	"paring knife", "muffin tin", "springform", "milk frother", "scale",
	"gift card", "carbon steel pan", "honing rod", "mandoline", "ramekins",
}

// misses are searches the catalog has no results for: misspellings and
// what the shop does not sell, the list a shop owner wants to see.
var misses = []string{
	"chef knfe", "sous vide", "air fryer", "santkou", "pasta machine",
	"cast iron wok lid", "ice cream maker", "japanese rice cooker",
	"pizza stone 40cm", "dishwasher safe knife", "kitchenaid bowl",
}

var modifiers = []string{"set", "sale", "black", "24cm", "28cm", "large", "small", "gift", "copper", "vintage"}

// drawSearch draws what a shopper types and how many results it finds.
func drawSearch(r *rand.Rand, popular *rand.Zipf) (keyword string, found int) {
	switch x := r.Float64(); {
	case x < 0.12:
		keyword, found = misses[r.IntN(len(misses))], 0
	case x < 0.27:
		keyword, found = keywords[popular.Uint64()]+" "+modifiers[r.IntN(len(modifiers))], r.IntN(12)
	default:
		keyword, found = keywords[popular.Uint64()], 3+r.IntN(120)
	}
	// People type as they like; reports fold case and outer spaces.
	switch x := r.Float64(); {
	case x < 0.08:
		keyword = strings.ToUpper(keyword[:1]) + keyword[1:]
	case x < 0.11:
		keyword += " "
	}
	return keyword, found
}
