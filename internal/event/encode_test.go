package event

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

func TestAppendJSONIsMarshal(t *testing.T) {
	zero, three := 0, 3
	for _, tc := range []struct {
		name string
		e    Event
	}{
		{"empty", Event{}},
		{"stamped pageview", Event{
			ID: goodID, Type: Pageview, TS: 1700000000000, AnonymousID: "a1", UserID: "u1", SessionID: "s1",
			Page:       &Page{URL: "https://shop/?q=<b>&x=1", Path: "/", Title: "Shop", Referrer: "r"},
			Context:    &Context{Locale: "de-DE", TZ: "Europe/Berlin", Screen: "390x844", UTM: &UTM{Source: "s", Medium: "m", Campaign: "c", Term: "t", Content: "x"}},
			OriginalTS: -5, UserVerified: true, ReceivedAt: 1700000000001, SiteID: "shop", IP: "203.0.113.0",
			UserAgent: "Mozilla/5.0", Bot: true, Browser: "Chrome", OS: "Linux", Device: "desktop",
			PageURL: "p", SearchKeyword: "k", Date: 7,
		}},
		{"empty parts", Event{Page: &Page{}, Search: &SearchDetail{}, Click: &ClickDetail{}, Scroll: &ScrollDetail{}, Form: &FormDetail{}, Context: &Context{}}},
		{"utm alone", Event{Context: &Context{UTM: &UTM{}}}},
		{"utm after one field", Event{Context: &Context{Screen: "1x1", UTM: &UTM{Term: "t"}}}},
		{"search results zero", Event{Search: &SearchDetail{Keyword: "k", Results: &zero}}},
		{"search results", Event{Search: &SearchDetail{Keyword: "k", Results: &three}}},
		{"click and form", Event{Click: &ClickDetail{Selector: "a", Text: "b", Href: "c", Tag: "d"}, Form: &FormDetail{FormID: "f", Action: "/a"}, Scroll: &ScrollDetail{DepthPct: -1}}},
		{"escapes", Event{Name: "\"\\/\b\f\n\r\t\x00\x1f\x7f<>&\u2028\u2029é😀\xff\xc3 end", ID: "\xed\xa0\x80"}},
		{"props", Event{Props: Props{
			"s": "v", "n": json.Number("9223372036854775807"), "z": json.Number("-0"), "e": json.Number("1.5E+3"),
			"empty": json.Number(""), "t": true, "f": false, "float": 49.9, "big": 1e21, "small": 1e-7,
			"nil": nil, "K": "k", "é<": "x", "": "",
		}}},
		{"empty props", Event{Props: Props{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(&tc.e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tc.e.AppendJSON([]byte("prefix"))
			if err != nil || !bytes.Equal(got, append([]byte("prefix"), want...)) {
				t.Fatalf("AppendJSON = %s, %v\njson.Marshal = %s", got, err, want)
			}
		})
	}
}

func TestAppendJSONRefusesWhatMarshalRefuses(t *testing.T) {
	for _, v := range []any{json.Number("1x"), json.Number("01"), json.Number("-"), json.Number("1."), json.Number("1e"), math.NaN(), math.Inf(1), []any{func() {}}} {
		e := Event{Props: Props{"p": v}}
		if _, err := json.Marshal(&e); err == nil {
			t.Fatalf("json.Marshal accepts %#v", v)
		}
		if _, err := e.AppendJSON(nil); err == nil {
			t.Errorf("AppendJSON accepts %#v", v)
		}
	}
	for _, v := range []json.Number{"0", "-0", "1.0", "1e5", "1E-5", "-12.5e+3"} {
		e := Event{Props: Props{"p": v}}
		if _, err := e.AppendJSON(nil); err != nil {
			t.Errorf("AppendJSON refuses %q: %v", v, err)
		}
	}
}
