package event

import (
	"encoding/json"
	"reflect"
	"testing"
)

// recordEvents are events as the collector publishes them: the client's
// fields, stamped ones, URLs with & (json.Marshal writes \u0026).
func recordEvents() []Event {
	three := 3
	ctx := &Context{Locale: "de-DE", TZ: "Europe/Berlin", Screen: "390x844"}
	stamp := func(e Event) Event {
		e.ID, e.TS, e.OriginalTS, e.ReceivedAt = goodID, 1764641000123, 1764641000100, 1764641000150
		e.AnonymousID, e.SessionID, e.SiteID = "3f9a1c2e7b4d4e0f", "s-3f9a1c2e", "shop"
		e.IP = "203.0.113.0"
		e.UserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
		e.Browser, e.OS, e.Device = "Chrome", "Windows", "desktop"
		return e
	}
	return []Event{
		stamp(Event{Type: Pageview,
			Page:    &Page{URL: "https://shop.example/c/humidifiers?utm_source=news&utm_medium=email", Path: "/c/humidifiers", Title: "Humidifiers – Shop", Referrer: "https://www.google.com/"},
			Context: &Context{Locale: "de-DE", TZ: "Europe/Berlin", Screen: "390x844", UTM: &UTM{Source: "news", Medium: "email", Campaign: "winter"}}}),
		stamp(Event{Type: Search, Page: &Page{URL: "https://shop.example/search?q=humidifier", Path: "/search", Title: "Search"},
			Search: &SearchDetail{Keyword: "humidifier", Results: &three}, Context: ctx,
			PageURL: "https://shop.example/search?q=humidifier", SearchKeyword: "humidifier", Date: 1764641000123}),
		stamp(Event{Type: Click, UserID: "u-1042", UserVerified: true, Page: &Page{URL: "https://shop.example/p/42", Path: "/p/42", Title: "Tom & Jerry <mug>"},
			Click: &ClickDetail{Selector: "a.deal", Text: "30% off", Href: "/deal?id=42&from=home", Tag: "a"}, Context: ctx}),
		stamp(Event{Type: Custom, Name: "add_to_cart", Page: &Page{URL: "https://shop.example/p/42", Path: "/p/42"},
			Props: Props{"sku": "MUG-42", "price": json.Number("12.90"), "qty": json.Number("2"), "gift": false}, Context: ctx}),
		stamp(Event{Type: Scroll, Bot: true, Page: &Page{URL: "https://shop.example/", Path: "/"}, Scroll: &ScrollDetail{DepthPct: 75},
			UserAgent: "Googlebot/2.1 (+http://www.google.com/bot.html)"}),
	}
}

func recordValues(tb testing.TB) [][]byte {
	var out [][]byte
	for _, e := range recordEvents() {
		b, err := e.AppendJSON(nil)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// checkRecord holds DecodeRecord to json.Unmarshal: the same event and
// the same error, into a zero Event and into one already filled.
func checkRecord(t *testing.T, raw []byte) {
	t.Helper()
	filled := func() Event {
		return Event{ID: "old", TS: 9, Page: &Page{URL: "old", Title: "t"}, Props: Props{"old": "v"}, Bot: true, Context: &Context{UTM: &UTM{Source: "s"}}}
	}
	for _, start := range []func() Event{func() Event { return Event{} }, filled} {
		got, want := start(), start()
		gotErr, wantErr := DecodeRecord(raw, &got), json.Unmarshal(raw, &want)
		if !reflect.DeepEqual(gotErr, wantErr) {
			t.Fatalf("DecodeRecord(%q) error %v, json.Unmarshal %v", raw, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeRecord and json.Unmarshal differ on %q:\n%#v\n%#v", raw, got, want)
		}
	}
}

// recordFast reports whether DecodeRecord decodes raw itself.
func recordFast(raw []byte) bool {
	var e Event
	return decodeRecordFast(raw, &e)
}

func TestDecodeRecord(t *testing.T) {
	for _, raw := range recordValues(t) {
		if !recordFast(raw) {
			t.Errorf("a collector's record is left to encoding/json: %s", raw)
		}
		checkRecord(t, raw)
	}
	for _, tc := range []struct {
		raw  string
		fast bool
	}{
		{custom(`,"site_id":"shop","bot":true,"user_verified":false,"date":5,"received_at":-1`), true},
		{custom(`,"page":{"url":"a\u0026b\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`), true},
		{custom(`,"props":{"t":"cut \ud83d","u":"\udc00\ud83d","v":"\ud83d\u0041"}`), true},
		{custom(`,"props":{"a\u0026":"x"}`), false},
		{custom(`,"page":{"url":"\x"}`), false},
		{custom(`,"page":{"url":"\u00"}`), false},
		{custom(`,"page":{"url":"\ud83d\u00zz"}`), false},
		{custom(`,"page":{"url":"a` + "\t" + `"}`), false},
		{custom(`,"page":{"url":"\u0041`), false},
		{custom(`,"site_id":"M` + "\xfc" + `nchen"`), false},
		{custom(`,"bot":1`), false},
		{custom(`,"bot":null`), false},
		{custom(`,"Site_ID":"x"`), false},
		{custom(`,"site_id":"a","site_id":"b"`), false},
		{custom(`,"future":1`), false},
		{`{"id":"x"} {}`, false},
		{`null`, false},
		{`[]`, false},
		{``, false},
	} {
		if got := recordFast([]byte(tc.raw)); got != tc.fast {
			t.Errorf("record mode on %s = %v, want %v", tc.raw, got, tc.fast)
		}
		checkRecord(t, []byte(tc.raw))
	}
}

// TestIsZeroEvent checks that isZeroEvent knows every field of Event: a
// field it missed would let DecodeRecord overwrite what json.Unmarshal
// merges into.
func TestIsZeroEvent(t *testing.T) {
	if !isZeroEvent(&Event{}) {
		t.Fatal("the zero Event is not zero")
	}
	typ := reflect.TypeFor[Event]()
	for i := range typ.NumField() {
		var e Event
		f := reflect.ValueOf(&e).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Int64:
			f.SetInt(1)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Map:
			f.Set(reflect.MakeMap(f.Type()))
		default:
			t.Fatalf("field %s: kind %s unknown to this test", typ.Field(i).Name, f.Kind())
		}
		if isZeroEvent(&e) {
			t.Errorf("isZeroEvent ignores %s", typ.Field(i).Name)
		}
	}
}

// FuzzDecodeRecord holds DecodeRecord equal to json.Unmarshal:
//
//	go test -run '^$' -fuzz '^FuzzDecodeRecord$' -fuzztime 10m -parallel 1 ./internal/event/
func FuzzDecodeRecord(f *testing.F) {
	for _, raw := range recordValues(f) {
		f.Add(raw)
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(custom(`,"page":{"url":"a\u0026b\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"},"props":{"t":"cut \ud83d","v":"\ud83d\u0041"}`)))
	f.Fuzz(checkRecord)
}

func BenchmarkDecodeRecord(b *testing.B) {
	values := recordValues(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, v := range values {
			var e Event
			if err := DecodeRecord(v, &e); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkDecodeRecordBaseline is what the consumers did before:
// json.Unmarshal of the same records.
func BenchmarkDecodeRecordBaseline(b *testing.B) {
	values := recordValues(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, v := range values {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				b.Fatal(err)
			}
		}
	}
}
