package dashboard_test

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/footfall/footfall/internal/event"
)

// The integration test's data set: visits of a shop across two days and
// their hours, a few weeks before them for retention and comparison, bots
// that must not count, and a visitor of the last minute. The expected
// figures are computed from it in Go, never read back from ClickHouse.

// agent is a real User-Agent and what the collector makes of it.
type agent struct{ ua, browser, os, device string }

var (
	chromeWindows = agent{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", "Chrome", "Windows", "desktop"}
	safariIPhone  = agent{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", "Safari", "iOS", "mobile"}
	firefoxLinux  = agent{"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox", "Linux", "desktop"}
	chromeAndroid = agent{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", "Chrome", "Android", "mobile"}
	safariIPad    = agent{"Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", "Safari", "iOS", "tablet"}
	edgeWindows   = agent{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0", "Edge", "Windows", "desktop"}
	googlebot     = agent{ua: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}
)

// origin is where a visit came from and how Footfall attributes it
// (Snowplow's referer data, UTM tags).
type origin struct {
	referrer                  string
	utm                       *event.UTM
	source, channel, refShown string
}

var (
	fromGoogle   = origin{referrer: "https://www.google.com/search?q=humidifier", source: "Google", channel: "Organic Search", refShown: "google.com/search"}
	fromFacebook = origin{referrer: "https://www.facebook.com/", source: "Facebook", channel: "Social", refShown: "facebook.com"}
	newsletter   = origin{utm: &event.UTM{Source: "newsletter", Medium: "email", Campaign: "winter-sale", Term: "humidifier", Content: "banner"},
		source: "newsletter", channel: "Email"}
	direct = origin{channel: "Direct"}
)

// action is one event of a visit, at seconds after the visit starts.
type action struct {
	at               int
	typ              event.Type
	path             string
	name             string
	props            map[string]any
	keyword          string
	results          *int
	href, text       string
	scrollPercentage int
	// late events reach the collector after the rest has been loaded:
	// their visits change, and the loader rewrites them.
	late bool
}

func pageview(at int, path string) action { return action{at: at, typ: event.Pageview, path: path} }
func search(at int, path, keyword string, results int) action {
	return action{at: at, typ: event.Search, path: path, keyword: keyword, results: &results}
}
func click(at int, path, href, text string) action {
	return action{at: at, typ: event.Click, path: path, href: href, text: text}
}
func custom(at int, path, name string, props map[string]any) action {
	return action{at: at, typ: event.Custom, path: path, name: name, props: props}
}
func scroll(at int, path string) action {
	return action{at: at, typ: event.Scroll, path: path, scrollPercentage: 75}
}

func late(a action) action {
	a.late = true
	return a
}

// visit is one beacon session of one visitor.
type visit struct {
	visitor, session string
	agent            agent
	origin           origin
	start            time.Time
	actions          []action
	events           []*ev
}

func (v *visit) bot() bool { return v.agent.browser == "" }

// ev is one event as the model sees it.
type ev struct {
	id string
	action
	time time.Time
	v    *visit
}

// dataset builds the visits around d0, the day before yesterday (UTC),
// and now, the time of the realtime visitor.
func dataset(d0, now time.Time) []*visit {
	d1 := d0.AddDate(0, 0, 1)
	at := func(day time.Time, hh, mm int) time.Time {
		return day.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	}
	n := 0
	v := func(visitor string, a agent, o origin, start time.Time, actions ...action) *visit {
		n++
		return &visit{visitor: visitor, session: fmt.Sprintf("session-%d-%s", n, visitor), agent: a, origin: o, start: start, actions: actions}
	}
	plan := func(p string) map[string]any { return map[string]any{"plan": p, "total": 39.5} }
	return []*visit{
		v("vis-a", chromeWindows, fromGoogle, at(d0, 9, 10),
			pageview(0, "/"), pageview(40, "/p/humidifier"), search(70, "/p/humidifier", "Humidifier ", 3),
			click(100, "/p/humidifier", "/cart", "Go to cart"), pageview(130, "/cart"), custom(200, "/cart", "Checkout", plan("gift"))),
		v("vis-b", safariIPhone, fromFacebook, at(d0, 9, 40), pageview(0, "/")),
		v("vis-c", firefoxLinux, newsletter, at(d0, 14, 5),
			pageview(0, "/p/kettle"), search(30, "/p/kettle", "kettle", 0), scroll(50, "/p/kettle"),
			custom(90, "/p/kettle", "Signup", map[string]any{"plan": "pro"}), late(pageview(120, "/blog/tea/green"))),
		v("vis-a", chromeWindows, direct, at(d1, 8, 20),
			pageview(0, "/"), pageview(25, "/cart"), custom(60, "/cart", "Checkout", plan("basic"))),
		v("vis-d", chromeAndroid, fromGoogle, at(d1, 10, 0),
			pageview(0, "/p/humidifier"), click(20, "/p/humidifier", "", "Add to cart"),
			search(45, "/p/humidifier", "HUMIDIFIER", 0), pageview(80, "/")),
		v("vis-e", safariIPad, direct, at(d1, 10, 30), pageview(0, "/blog/post-1"), scroll(30, "/blog/post-1")),
		v("vis-f", edgeWindows, fromFacebook, at(d1, 17, 45),
			pageview(0, "/"), pageview(15, "/p/kettle"), click(30, "/p/kettle", "/cart", "Cart"), pageview(40, "/cart")),
		v("vis-g", chromeWindows, newsletter, at(d1, 23, 30), pageview(0, "/blog/post-1"), late(pageview(300, "/blog/tea/green"))),
		// Weeks before: cohorts for retention, and the period before
		// d0..d1 for compare=previous_period.
		v("vis-h", firefoxLinux, direct, at(d0.AddDate(0, 0, -14), 12, 0), pageview(0, "/")),
		v("vis-a", chromeWindows, direct, at(d0.AddDate(0, 0, -14), 13, 0), pageview(0, "/"), pageview(20, "/p/kettle")),
		v("vis-h", firefoxLinux, direct, at(d0.AddDate(0, 0, -7), 12, 0), pageview(0, "/")),
		v("vis-b", safariIPhone, direct, at(d0.AddDate(0, 0, -7), 15, 0), pageview(0, "/")),
		v("vis-i", chromeAndroid, fromGoogle, at(d0.AddDate(0, 0, -2), 11, 0), pageview(0, "/"), pageview(30, "/cart")),
		v("vis-h", firefoxLinux, direct, at(d0.AddDate(0, 0, -2), 18, 0), pageview(0, "/p/humidifier")),
		// Bots: a crawler's pageviews, search and checkout count nowhere.
		v("bot-1", googlebot, direct, at(d0, 10, 0),
			pageview(0, "/"), pageview(5, "/p/humidifier"), search(9, "/p/humidifier", "bot query", 0)),
		v("bot-2", googlebot, fromGoogle, at(d1, 11, 0), pageview(0, "/cart"), custom(3, "/cart", "Checkout", plan("bot"))),
		// The last minute.
		v("vis-r", chromeWindows, direct, now.Add(-time.Minute).Truncate(time.Second), pageview(0, "/")),
		v("bot-3", googlebot, direct, now.Add(-30*time.Second).Truncate(time.Second), pageview(0, "/")),
	}
}

// build gives each action of each visit its event, and returns them all.
func build(visits []*visit) []*ev {
	var all []*ev
	for _, v := range visits {
		for _, a := range v.actions {
			e := &ev{id: uuid(), action: a, time: v.start.Add(time.Duration(a.at) * time.Second), v: v}
			v.events = append(v.events, e)
			all = append(all, e)
		}
	}
	return all
}

// envelope is the event as the beacon sends it.
func (e *ev) envelope() event.Event {
	v := e.v
	out := event.Event{
		ID: e.id, Type: e.typ, Name: e.name, TS: e.time.UnixMilli(), AnonymousID: v.visitor, SessionID: v.session,
		Page:    &event.Page{URL: "https://shop.example" + e.path, Path: e.path, Title: "Shop " + e.path, Referrer: "https://shop.example/"},
		Props:   e.props,
		Context: &event.Context{Locale: "en-GB", TZ: "Europe/London", Screen: "1920x1080", UTM: v.origin.utm},
	}
	if e == v.events[0] {
		out.Page.Referrer = v.origin.referrer
	}
	switch e.typ {
	case event.Search:
		out.Search = &event.SearchDetail{Keyword: e.keyword, Results: e.results}
	case event.Click:
		out.Click = &event.ClickDetail{Selector: "a.button", Href: e.href, Text: e.text, Tag: "a"}
	case event.Scroll:
		out.Scroll = &event.ScrollDetail{DepthPct: e.scrollPercentage}
	}
	return out
}

// The values of an event's properties, as the API should report them.

func (e *ev) eventName() string {
	switch e.typ {
	case event.Custom:
		return e.action.name
	case event.Pageview:
		return "pageview"
	}
	return ""
}

func (e *ev) keywordKey() string {
	if e.typ != event.Search {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(e.keyword))
}

func (e *ev) clickTarget() string {
	switch {
	case e.typ != event.Click:
		return ""
	case e.href != "":
		return e.href
	}
	return e.text
}

func (e *ev) prop(key string) string {
	if v, ok := e.props[key]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
