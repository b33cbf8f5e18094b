package loader_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

// eventRow is one row of the events table as a dashboard reads it.
type eventRow struct {
	ID            string    `ch:"id"`
	Type          string    `ch:"type"`
	Name          string    `ch:"name"`
	SiteID        string    `ch:"site_id"`
	Time          time.Time `ch:"time"`
	TS            uint64    `ch:"ts"`
	OriginalTS    uint64    `ch:"original_ts"`
	ReceivedAt    time.Time `ch:"received_at"`
	AnonymousID   string    `ch:"anonymous_id"`
	UserID        string    `ch:"user_id"`
	UserVerified  uint8     `ch:"user_verified"`
	SessionID     string    `ch:"session_id"`
	PageURL       string    `ch:"page_url"`
	PagePath      string    `ch:"page_path"`
	PageTitle     string    `ch:"page_title"`
	PageReferrer  string    `ch:"page_referrer"`
	SearchKeyword string    `ch:"search_keyword"`
	SearchResults int32     `ch:"search_results"`
	ClickSelector string    `ch:"click_selector"`
	ClickText     string    `ch:"click_text"`
	ClickHref     string    `ch:"click_href"`
	ClickTag      string    `ch:"click_tag"`
	ScrollDepth   uint8     `ch:"scroll_depth"`
	FormID        string    `ch:"form_id"`
	FormAction    string    `ch:"form_action"`
	PropKeys      []string  `ch:"props.key"`
	PropValues    []string  `ch:"props.value"`
	Locale        string    `ch:"locale"`
	TZ            string    `ch:"tz"`
	Screen        string    `ch:"screen"`
	UTMSource     string    `ch:"utm_source"`
	UTMMedium     string    `ch:"utm_medium"`
	UTMCampaign   string    `ch:"utm_campaign"`
	UTMTerm       string    `ch:"utm_term"`
	UTMContent    string    `ch:"utm_content"`
	IP            string    `ch:"ip"`
	UserAgent     string    `ch:"user_agent"`
	Bot           uint8     `ch:"bot"`
	Browser       string    `ch:"browser"`
	OS            string    `ch:"os"`
	Device        string    `ch:"device"`
}

// props returns the row's props as a map, so their order does not matter.
func (r eventRow) props() map[string]string {
	out := map[string]string{}
	for i, k := range r.PropKeys {
		out[k] = r.PropValues[i]
	}
	return out
}

// normal is r with times in UTC and props out of the way, for comparison.
func (r eventRow) normal() eventRow {
	r.Time, r.ReceivedAt = r.Time.UTC(), r.ReceivedAt.UTC()
	r.PropKeys, r.PropValues = nil, nil
	return r
}

func TestLoaderLoadsEveryTypeOnceWithItsColumns(t *testing.T) {
	r := newRig(t)
	received := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	rcv := received.UnixMilli()
	ts := rcv - 1500
	sec := func(ms int64) time.Time { return time.UnixMilli(ms).Truncate(time.Second).UTC() }
	three := 3
	chrome := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
	ctx := &event.Context{Locale: "en-GB", TZ: "Europe/London", Screen: "1920x1080",
		UTM: &event.UTM{Source: "newsletter", Medium: "email", Campaign: "winter", Term: "humidifier", Content: "top"}}
	stamp := func(e *event.Event) *event.Event {
		e.ID, e.SiteID, e.ReceivedAt = newID(), "shop", rcv
		if e.TS == 0 {
			e.TS = ts
		}
		if e.UserAgent == "" {
			e.IP, e.UserAgent, e.Browser, e.OS, e.Device = "203.0.113.0", chrome, "Chrome", "Windows", "desktop"
		}
		return e
	}
	// base is what every row of a browser event says besides its own fields.
	base := func(e *event.Event) eventRow {
		return eventRow{
			ID: e.ID, Type: string(e.Type), SiteID: "shop", Time: sec(ts), TS: uint64(ts), ReceivedAt: sec(rcv),
			AnonymousID: e.AnonymousID, UserID: e.UserID, SessionID: e.SessionID, SearchResults: -1,
			IP: "203.0.113.0", UserAgent: chrome, Browser: "Chrome", OS: "Windows", Device: "desktop",
		}
	}
	page := &event.Page{URL: "https://shop.example/p/humidifier?ref=mail", Path: "/p/humidifier", Title: "Humidifier", Referrer: "https://mail.example/"}

	var cases []struct {
		e     *event.Event
		want  eventRow
		props map[string]string
	}
	add := func(e *event.Event, want func(w *eventRow), props map[string]string) {
		e = stamp(e)
		w := base(e)
		want(&w)
		cases = append(cases, struct {
			e     *event.Event
			want  eventRow
			props map[string]string
		}{e, w, props})
	}
	add(&event.Event{Type: event.Pageview, AnonymousID: "anon-a", SessionID: "s-1", Page: page, Context: ctx}, func(w *eventRow) {
		w.PageURL, w.PagePath, w.PageTitle, w.PageReferrer = page.URL, page.Path, page.Title, page.Referrer
		w.Locale, w.TZ, w.Screen = "en-GB", "Europe/London", "1920x1080"
		w.UTMSource, w.UTMMedium, w.UTMCampaign, w.UTMTerm, w.UTMContent = "newsletter", "email", "winter", "humidifier", "top"
	}, map[string]string{})
	add(&event.Event{Type: event.Search, AnonymousID: "anon-a", SessionID: "s-1",
		Search: &event.SearchDetail{Keyword: "Humidifiers ", Results: &three}, SearchKeyword: "Humidifiers ", Date: ts,
		Page: &event.Page{URL: "https://shop.example/search?q=Humidifiers"}}, func(w *eventRow) {
		w.SearchKeyword, w.SearchResults, w.PageURL = "Humidifiers ", 3, "https://shop.example/search?q=Humidifiers"
	}, map[string]string{})
	add(&event.Event{Type: event.Search, AnonymousID: "anon-b", Search: &event.SearchDetail{Keyword: "kettle"}}, func(w *eventRow) {
		w.SearchKeyword = "kettle" // results unknown stays -1
	}, map[string]string{})
	add(&event.Event{Type: event.Click, AnonymousID: "anon-a", SessionID: "s-1",
		Click: &event.ClickDetail{Selector: "a.deal", Text: "30% off", Href: "/demo/search.html?q=humidifier", Tag: "a"}}, func(w *eventRow) {
		w.ClickSelector, w.ClickText, w.ClickHref, w.ClickTag = "a.deal", "30% off", "/demo/search.html?q=humidifier", "a"
	}, map[string]string{})
	add(&event.Event{Type: event.Scroll, AnonymousID: "anon-b", Scroll: &event.ScrollDetail{DepthPct: 75}}, func(w *eventRow) {
		w.ScrollDepth = 75
	}, map[string]string{})
	add(&event.Event{Type: event.FormSubmit, AnonymousID: "anon-b", Form: &event.FormDetail{FormID: "newsletter", Action: "/subscribe"}}, func(w *eventRow) {
		w.FormID, w.FormAction = "newsletter", "/subscribe"
	}, map[string]string{})
	add(&event.Event{Type: event.Custom, Name: "add_to_cart", AnonymousID: "anon-b",
		Props: map[string]any{"sku": "H-100", "qty": 2.0, "gift": true, "price": 19.99}}, func(w *eventRow) {
		w.Name = "add_to_cart"
	}, map[string]string{"sku": "H-100", "qty": "2", "gift": "true", "price": "19.99"})
	// Numbers as the collector passes them on: the client's exact text.
	add(&event.Event{Type: event.Custom, Name: "order", AnonymousID: "anon-b",
		Props: map[string]any{"order_id": json.Number("9223372036854775807"), "huge": json.Number("1e308"), "neg0": json.Number("-0")}}, func(w *eventRow) {
		w.Name = "order"
	}, map[string]string{"order_id": "9223372036854775807", "huge": "1e308", "neg0": "-0"})
	// A signed identify from a browser whose clock is 7 s fast: what the
	// collector believes, and the client's own ts.
	add(&event.Event{Type: event.Identify, AnonymousID: "anon-a", UserID: "u-42", UserVerified: true, OriginalTS: ts + 7000}, func(w *eventRow) {
		w.UserVerified, w.OriginalTS = 1, uint64(ts+7000)
	}, map[string]string{})
	// A server-side event: no anonymous id, keyed by the user id.
	add(&event.Event{Type: event.Custom, Name: "refund", UserID: "u-42"}, func(w *eventRow) {
		w.Name = "refund"
	}, map[string]string{})
	// A crawler whose clock is a year off: counted under the server's time,
	// its own ts kept raw.
	skewed := ts - 400*24*time.Hour.Milliseconds()
	add(&event.Event{Type: event.Pageview, AnonymousID: "anon-c", TS: skewed, Bot: true,
		IP: "198.51.100.0", UserAgent: "Googlebot/2.1", Browser: "Googlebot", OS: "other", Device: "bot"}, func(w *eventRow) {
		w.Time, w.TS, w.Bot = sec(rcv), uint64(skewed), 1
		w.IP, w.UserAgent, w.Browser, w.OS, w.Device = "198.51.100.0", "Googlebot/2.1", "Googlebot", "other", "bot"
	}, map[string]string{})

	// Something that is not an event, ahead of good events on a topic: it
	// must be set aside (dead-lettered), not stall the partition.
	r.publish(kafka.Record{
		Topic: event.Topic(r.kc.TopicPrefix, event.Pageview), Key: []byte("shop:anon-a"),
		Value: []byte("not an event"),
	})
	for _, c := range cases {
		r.produce(c.e)
	}
	group := r.group()
	r.startLoader(context.Background(), group, r.sink())
	r.waitCaughtUp(group)

	c, err := r.counts()
	if err != nil {
		t.Fatal(err)
	}
	if n := uint64(len(cases)); c != (counts{raw: n, final: n, distinct: n}) {
		t.Fatalf("events table has %+v, want %d of each: every event exactly once", c, n)
	}
	rows, err := r.conn.Query(context.Background(), "SELECT * FROM events FINAL")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]eventRow{}
	for rows.Next() {
		var row eventRow
		if err := rows.ScanStruct(&row); err != nil {
			t.Fatal(err)
		}
		got[row.ID] = row
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		row, ok := got[c.e.ID]
		if !ok {
			t.Errorf("%s event %s not loaded", c.e.Type, c.e.ID)
			continue
		}
		if !reflect.DeepEqual(row.normal(), c.want) {
			t.Errorf("%s event loaded as\n%+v\nwant\n%+v", c.e.Type, row.normal(), c.want)
		}
		if !reflect.DeepEqual(row.props(), c.props) {
			t.Errorf("%s event props = %v, want %v", c.e.Type, row.props(), c.props)
		}
	}
}
