package segment

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
)

var received = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func input() Input {
	return Input{Site: "shop", ReceivedAt: received, Limits: event.DefaultLimits}
}

// mapOne maps a batch of one message.
func mapOne(t *testing.T, body string) (*Mapped, *event.Rejection) {
	t.Helper()
	req, ok, err := DecodeBatch([]byte(body))
	if err != nil || !ok {
		t.Fatalf("DecodeBatch(%s) = ok %v, err %v", body, ok, err)
	}
	return Map(req, 0, input())
}

func mustMap(t *testing.T, body string) *Mapped {
	t.Helper()
	m, rej := mapOne(t, body)
	if rej != nil {
		t.Fatalf("rejected: %+v", rej)
	}
	return m
}

func TestMapCalls(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want event.Event
	}{
		{
			name: "track is a custom event with its properties flattened",
			msg:  `{"type":"track","messageId":"m1","userId":"u1","event":"Order Completed","properties":{"total":27.5,"currency":"EUR","coupon":null,"shipping":{"method":"dhl"},"skus":["a","b"],"gift":false}}`,
			want: event.Event{Type: event.Custom, Name: "Order Completed", UserID: "u1",
				Props: map[string]any{"total": json.Number("27.5"), "currency": "EUR", "shipping.method": "dhl", "skus": `["a","b"]`, "gift": false}},
		},
		{
			name: "a track named like a search is a search",
			msg:  `{"type":"track","messageId":"m2","anonymousId":"a1","event":"Products Searched","properties":{"query":"humidifier","filter":"new"}}`,
			want: event.Event{Type: event.Search, AnonymousID: "a1", Search: &event.SearchDetail{Keyword: "humidifier"}, Props: map[string]any{"filter": "new"}},
		},
		{
			name: "a search track without a query stays a custom event",
			msg:  `{"type":"track","messageId":"m3","anonymousId":"a1","event":"Products Searched"}`,
			want: event.Event{Type: event.Custom, Name: "Products Searched", AnonymousID: "a1"},
		},
		{
			name: "page takes its page from properties, then context.page",
			msg:  `{"type":"page","messageId":"m4","anonymousId":"a1","name":"Pricing","category":"Docs","properties":{"url":"https://shop.example/pricing?x=1","path":"/pricing","plan":"pro"},"context":{"page":{"url":"https://ignored.example/","referrer":"https://www.google.com/"}}}`,
			want: event.Event{Type: event.Pageview, AnonymousID: "a1",
				Page:  &event.Page{URL: "https://shop.example/pricing?x=1", Path: "/pricing", Title: "Pricing", Referrer: "https://www.google.com/"},
				Props: map[string]any{"plan": "pro", "category": "Docs"}},
		},
		{
			name: "screen is a custom screen_view",
			msg:  `{"type":"screen","messageId":"m5","userId":"u1","name":"Basket","properties":{"items":3}}`,
			want: event.Event{Type: event.Custom, Name: "screen_view", UserID: "u1", Props: map[string]any{"items": json.Number("3"), "screen_name": "Basket"}},
		},
		{
			name: "identify carries the traits",
			msg:  `{"type":"identify","messageId":"m6","userId":"u1","anonymousId":"a1","traits":{"email":"ada@example.com","address":{"city":"Berlin"}}}`,
			want: event.Event{Type: event.Identify, UserID: "u1", AnonymousID: "a1", Props: map[string]any{"email": "ada@example.com", "address.city": "Berlin"}},
		},
		{
			name: "group is a custom event",
			msg:  `{"type":"group","messageId":"m7","userId":"u1","groupId":"acme","traits":{"plan":"enterprise"}}`,
			want: event.Event{Type: event.Custom, Name: "group", UserID: "u1", Props: map[string]any{"group_id": "acme", "plan": "enterprise"}},
		},
		{
			name: "alias links previousId to userId",
			msg:  `{"type":"alias","messageId":"m8","previousId":"a1","userId":"u1"}`,
			want: event.Event{Type: event.Identify, UserID: "u1", AnonymousID: "a1"},
		},
		{
			name: "numeric ids, locale, screen and campaign",
			msg:  `{"type":"track","messageId":"m9","userId":42,"event":"Signed Up","context":{"locale":"de-DE","timezone":"Europe/Berlin","screen":{"width":390,"height":844},"campaign":{"name":"winter","source":"newsletter","medium":"email"}}}`,
			want: event.Event{Type: event.Custom, Name: "Signed Up", UserID: "42",
				Context: &event.Context{Locale: "de-DE", TZ: "Europe/Berlin", Screen: "390x844", UTM: &event.UTM{Source: "newsletter", Medium: "email", Campaign: "winter"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustMap(t, `{"batch":[`+tt.msg+`]}`).Event
			want := tt.want
			want.ID, want.TS = got.ID, received.UnixMilli()
			if !reflect.DeepEqual(*got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
}

// TestMessageIDs: a messageId becomes the same UUID every time for one
// site (a resend is deduplicated) and another for another site.
func TestMessageIDs(t *testing.T) {
	body := `{"batch":[{"type":"track","messageId":"node-next-1733-7b5d","userId":"u1","event":"x"}]}`
	a, b := mustMap(t, body).Event.ID, mustMap(t, body).Event.ID
	if a != b {
		t.Errorf("one messageId, two ids: %s, %s", a, b)
	}
	req, _, _ := DecodeBatch([]byte(body))
	in := input()
	in.Site = "other"
	other, rej := Map(req, 0, in)
	if rej != nil || other.Event.ID == a {
		t.Errorf("another site's id = %v (%v), want one unlike %s", other, rej, a)
	}
	noID := `{"batch":[{"type":"track","userId":"u1","event":"x"}]}`
	if x, y := mustMap(t, noID).Event.ID, mustMap(t, noID).Event.ID; x == y {
		t.Errorf("messages without messageId share id %s", x)
	}
	_, rej = mapOne(t, `{"batch":[{"type":"track","userId":"u1","event":"x","messageId":"`+strings.Repeat("m", MaxMessageID+1)+`"}]}`)
	if rej == nil || rej.Reason != event.ReasonInvalidID {
		t.Errorf("long messageId: %+v, want %s", rej, event.ReasonInvalidID)
	}
}

// TestTimes: the sender's clock is originalTimestamp, else timestamp; its
// sentAt is the message's, else the batch's. The collector shifts one by
// the other, as for /v1/batch.
func TestTimes(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		ts, sentAt time.Time
		rejected   bool
	}{
		{
			name:   "timestamp with the batch's sentAt",
			body:   `{"sentAt":"2026-12-02T10:05:00Z","batch":[{"type":"track","userId":"u","event":"x","timestamp":"2026-12-02T10:04:58Z"}]}`,
			ts:     received.Add(5*time.Minute - 2*time.Second),
			sentAt: received.Add(5 * time.Minute),
		},
		{
			name:   "originalTimestamp and the message's sentAt win",
			body:   `{"sentAt":"2026-12-02T00:00:00Z","batch":[{"type":"track","userId":"u","event":"x","timestamp":"2020-01-01T00:00:00Z","originalTimestamp":"2026-12-02T08:59:59.500+00:00","sentAt":"2026-12-02T09:00:00+00:00"}]}`,
			ts:     received.Add(-time.Hour - 500*time.Millisecond),
			sentAt: received.Add(-time.Hour),
		},
		{
			name: "without sentAt",
			body: `{"batch":[{"type":"track","userId":"u","event":"x","timestamp":"2026-12-01T10:00:00Z"}]}`,
			ts:   received.AddDate(0, 0, -1),
		},
		{
			name: "without a time of its own, the time received and no sentAt",
			body: `{"sentAt":"2026-12-02T10:05:00Z","batch":[{"type":"track","userId":"u","event":"x"}]}`,
			ts:   received,
		},
		{
			name:     "a time that is not ISO 8601",
			body:     `{"batch":[{"type":"track","userId":"u","event":"x","timestamp":"yesterday"}]}`,
			rejected: true,
		},
		{
			name:     "a sentAt that is not ISO 8601",
			body:     `{"sentAt":1733133600,"batch":[{"type":"track","userId":"u","event":"x","timestamp":"2026-12-01T10:00:00Z"}]}`,
			rejected: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, rej := mapOne(t, tt.body)
			if tt.rejected {
				if rej == nil || rej.Reason != event.ReasonInvalidField {
					t.Fatalf("got %+v, want %s", rej, event.ReasonInvalidField)
				}
				return
			}
			if rej != nil {
				t.Fatalf("rejected: %+v", rej)
			}
			if m.Event.TS != tt.ts.UnixMilli() {
				t.Errorf("ts = %s, want %s", time.UnixMilli(m.Event.TS).UTC(), tt.ts)
			}
			var sent int64
			if !tt.sentAt.IsZero() {
				sent = tt.sentAt.UnixMilli()
			}
			if m.SentAt != sent {
				t.Errorf("sentAt = %d, want %d", m.SentAt, sent)
			}
		})
	}
}

// TestBatchShape: a body with "batch" is Segment's; without, it is not,
// and the caller reads it as Footfall's.
func TestBatchShape(t *testing.T) {
	req, ok, err := DecodeBatch([]byte(`{"writeKey":"wk","sentAt":"2026-12-02T10:00:00Z","context":{"ip":"203.0.113.9","userAgent":"Mozilla/5.0"},"batch":[{"type":"page","anonymousId":"a"},{"type":"track","userId":"u","event":"e","context":{"ip":"198.51.100.1"}}]}`))
	if err != nil || !ok || req.WriteKey != "wk" || len(req.Messages) != 2 {
		t.Fatalf("DecodeBatch = %+v, %v, %v", req, ok, err)
	}
	first, rej := Map(req, 0, input())
	if rej != nil || first.Event.IP != "203.0.113.9" || first.UserAgent != "Mozilla/5.0" {
		t.Errorf("the batch's context: %+v %+v", first, rej)
	}
	second, rej := Map(req, 1, input())
	if rej != nil || second.Event.IP != "198.51.100.1" || second.UserAgent != "" {
		t.Errorf("a message's own context: %+v %+v", second, rej)
	}
	if _, ok, err := DecodeBatch([]byte(`{"site":"wk","events":[]}`)); ok || err != nil {
		t.Errorf("Footfall's shape: ok %v, err %v; want false, nil", ok, err)
	}
	if _, _, err := DecodeBatch([]byte(`[1,2]`)); err == nil {
		t.Error("an array: no error")
	}
	call, err := DecodeCall(Track, []byte(`{"writeKey":"wk","userId":"u","event":"Clicked"}`))
	if err != nil || call.WriteKey != "wk" {
		t.Fatalf("DecodeCall = %+v, %v", call, err)
	}
	if m, rej := Map(call, 0, input()); rej != nil || m.Event.Type != event.Custom || m.Event.Name != "Clicked" {
		t.Errorf("a call takes its kind from the path: %+v %+v", m, rej)
	}
}

func TestRejections(t *testing.T) {
	tests := []struct {
		msg  string
		want event.Reason
	}{
		{`{"type":"track","event":"x"}`, event.ReasonMissingUser},
		{`{"type":"track","userId":"u"}`, event.ReasonMissingName},
		{`{"type":"identify","anonymousId":"a"}`, event.ReasonMissingUser},
		{`{"userId":"u","event":"x"}`, event.ReasonUnknownType},
		{`{"type":"purchase","userId":"u"}`, event.ReasonUnknownType},
		{`{"type":"track","userId":{"id":1},"event":"x"}`, event.ReasonInvalidField},
		{`{"type":"track","userId":"u","event":"x","properties":"no"}`, event.ReasonInvalidField},
		{`{"type":"track","userId":"u","event":"x","properties":{` + manyProps(60) + `}}`, event.ReasonInvalidProps},
		{`{"type":"track","userId":"u","event":"x","properties":{"pad":"` + strings.Repeat("p", MaxMessageBytes) + `"}}`, event.ReasonEventTooLarge},
	}
	for _, tt := range tests {
		_, rej := mapOne(t, `{"batch":[`+tt.msg+`]}`)
		if rej == nil || rej.Reason != tt.want {
			short := tt.msg
			if len(short) > 80 {
				short = short[:80] + "…"
			}
			t.Errorf("%s: got %+v, want %s", short, rej, tt.want)
		}
	}
}

func manyProps(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `"p` + strings.Repeat("x", i) + `":1`
	}
	return strings.Join(parts, ",")
}
