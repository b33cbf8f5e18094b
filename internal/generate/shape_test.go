package generate

import (
	"net/url"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/useragent"
)

// visitFigures are the figures the dashboard shows, computed from the
// events the way the loader builds visits: by session, bots left out.
type visitFigures struct {
	events, botEvents       int
	visits, bounces         int
	pages                   map[int]int // visits by pageviews
	longestGap              time.Duration
	visitorsOnSeveralDays   float64
	searches, zeroResults   int
	types                   map[event.Type]int
	referrerHosts, channels map[string]int
	devices                 map[string]int
	byHour                  [24]int
}

func figures(events []*event.Event) visitFigures {
	f := visitFigures{pages: map[int]int{}, types: map[event.Type]int{}, referrerHosts: map[string]int{}, channels: map[string]int{}, devices: map[string]int{}}
	type visit struct {
		pageviews, interactions int
		last                    int64
	}
	visits := map[string]*visit{}
	days := map[string]map[int64]bool{}
	for _, e := range events {
		f.events++
		if e.Bot {
			f.botEvents++
			continue
		}
		f.types[e.Type]++
		f.byHour[time.UnixMilli(e.TS).UTC().Hour()]++
		v := visits[e.SessionID]
		if v == nil {
			v = &visit{last: e.TS}
			visits[e.SessionID] = v
			// The first event of a visit carries its referrer and tags.
			host := ""
			if u, err := url.Parse(e.Page.Referrer); err == nil {
				host = u.Hostname()
			}
			f.referrerHosts[host]++
			f.channels[channel(e)]++
			f.devices[e.Device]++
		}
		if gap := time.Duration(e.TS-v.last) * time.Millisecond; gap > f.longestGap {
			f.longestGap = gap
		}
		v.last = e.TS
		switch e.Type {
		case event.Pageview:
			v.pageviews++
		case event.Click, event.Search, event.FormSubmit, event.Custom:
			v.interactions++
		}
		if e.Type == event.Search {
			f.searches++
			if *e.Search.Results == 0 {
				f.zeroResults++
			}
		}
		if days[e.AnonymousID] == nil {
			days[e.AnonymousID] = map[int64]bool{}
		}
		days[e.AnonymousID][e.TS/time.Hour.Milliseconds()/24] = true
	}
	for _, v := range visits {
		f.visits++
		f.pages[v.pageviews]++
		if v.pageviews <= 1 && v.interactions == 0 {
			f.bounces++
		}
	}
	several := 0
	for _, d := range days {
		if len(d) > 1 {
			several++
		}
	}
	f.visitorsOnSeveralDays = float64(several) / float64(len(days))
	return f
}

// channel is a rough reading of the first event's tags, enough to see
// that each kind of traffic is there (the loader's is the real one).
func channel(e *event.Event) string {
	u := e.Context.UTM
	q, _ := url.Parse(e.Page.URL)
	switch {
	case q.Query().Get("gclid") != "":
		return "paid"
	case u != nil && u.Medium == "email":
		return "email"
	case u != nil && u.Medium == "social":
		return "social tagged"
	case e.Page.Referrer == "":
		return "direct"
	}
	return "referred"
}

func share(n, of int) float64 { return float64(n) / float64(of) }

func TestTrafficLooksReal(t *testing.T) {
	f := figures(all(t, testConfig()))
	within := func(what string, got, lo, hi float64) {
		t.Helper()
		if got < lo || got > hi {
			t.Errorf("%s: %.3f, want %.2f to %.2f", what, got, lo, hi)
		}
	}
	within("bot share of events", share(f.botEvents, f.events), 0.04, 0.06)
	within("bounce rate", share(f.bounces, f.visits), 0.40, 0.50)
	within("visitors seen on more than one day", f.visitorsOnSeveralDays, 0.1, 0.6)
	within("zero-result share of searches", share(f.zeroResults, f.searches), 0.05, 0.2)
	within("pageviews per visit", share(f.types[event.Pageview], f.visits), 2, 4)
	within("mobile share of visits", share(f.devices["mobile"], f.visits), 0.3, 0.6)
	for n := range f.pages {
		if n < 1 || n > 12 {
			t.Errorf("%d visits of %d pageviews", f.pages[n], n)
		}
	}
	if f.longestGap >= sessionGap {
		t.Errorf("a visit has %s between two events; the beacon starts a new session after %s", f.longestGap, sessionGap)
	}
	for _, typ := range event.Types() {
		if f.types[typ] == 0 {
			t.Errorf("no %s events", typ)
		}
	}
	for _, host := range []string{"", "www.google.com", "www.bing.com", "l.facebook.com", "t.co", "l.instagram.com", "www.seriouseats.com", "mail.google.com"} {
		if share(f.referrerHosts[host], f.visits) < 0.005 {
			t.Errorf("referrer %q starts %d of %d visits", host, f.referrerHosts[host], f.visits)
		}
	}
	for _, c := range []string{"paid", "email", "social tagged", "direct", "referred"} {
		if share(f.channels[c], f.visits) < 0.02 {
			t.Errorf("%s: %d of %d visits", c, f.channels[c], f.visits)
		}
	}
	// Evenings are busy, nights quiet.
	if evening, night := f.byHour[19], f.byHour[3]; evening < 4*night {
		t.Errorf("events at 19h %d, at 3h %d: want a day shape", evening, night)
	}
}

// TestAgentsAreStampedConsistently: one visit keeps one browser, events
// are stamped as the collector stamps them, people are people and bots
// bots, and every device has screens to draw from.
func TestAgentsAreStampedConsistently(t *testing.T) {
	for _, a := range people {
		if a.Bot || a.Browser == useragent.Other || a.OS == useragent.Other || len(screens[a.Device]) == 0 {
			t.Errorf("person %q is stamped %+v", a.UA, a.Agent)
		}
	}
	for _, a := range crawlers {
		if !a.Bot || len(screens[a.Device]) == 0 {
			t.Errorf("crawler %q is stamped %+v", a.UA, a.Agent)
		}
	}
	c := testConfig()
	c.Events = 50_000
	bySession := map[string]string{}
	collector := useragent.NewCache(64)
	for _, e := range all(t, c) {
		a := collector.Parse(e.UserAgent)
		if e.Bot != a.Bot || e.Browser != a.Browser || e.OS != a.OS || e.Device != a.Device {
			t.Fatalf("event %s stamped %v/%s/%s/%s for %q, the collector would stamp %+v", e.ID, e.Bot, e.Browser, e.OS, e.Device, e.UserAgent, a)
		}
		if ua, seen := bySession[e.SessionID]; seen && ua != e.UserAgent {
			t.Fatalf("session %s has two agents", e.SessionID)
		}
		bySession[e.SessionID] = e.UserAgent
	}
}
