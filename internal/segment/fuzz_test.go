package segment

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/event"
)

// FuzzMap: whatever the body, decoding and mapping never panic, and every
// message mapped is an envelope Footfall's own decoder accepts as it is,
// so a Segment call can never smuggle in what /v1/batch would refuse.
// Seeds here and in testdata/fuzz/FuzzMap run with every `go test`; run
// the fuzzer with: go test -run '^$' -fuzz FuzzMap -parallel 1 ./internal/segment
func FuzzMap(f *testing.F) {
	for _, seed := range []string{
		`{"batch":[{"type":"track","messageId":"m1","userId":"u1","event":"Order Completed","properties":{"total":27.5,"items":[{"sku":"a"}],"n":null}}]}`,
		`{"sentAt":"2026-12-02T10:05:00Z","batch":[{"type":"track","anonymousId":"a","event":"Products Searched","properties":{"query":"humidifier"},"timestamp":"2026-12-02T10:04:58Z"}]}`,
		`{"writeKey":"wk","context":{"ip":"203.0.113.9","campaign":{"name":"w","source":"s"}},"batch":[{"type":"page","anonymousId":"a","name":"Home","properties":{"url":"https://shop.example/"}},{"type":"identify","userId":7,"traits":{"a":{"b":{"c":1}}}},{"type":"alias","previousId":"a","userId":"u"},{"type":"group","userId":"u","groupId":"g"},{"type":"screen","userId":"u","name":"Cart"}]}`,
		`{"batch":[{"type":"track","userId":"u","event":"x","originalTimestamp":"2026-12-02T08:59:59.5+01:00","sentAt":"bad"}]}`,
		`{"batch":[{}]}`,
		`{"batch":null}`,
	} {
		f.Add([]byte(seed))
	}
	in := Input{Site: "shop", ReceivedAt: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), Limits: event.DefaultLimits}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, ok, err := DecodeBatch(body)
		if err != nil || !ok {
			return
		}
		for i := range req.Messages {
			m, rej := Map(req, i, in)
			if rej != nil {
				if rej.Index != i || rej.Reason == "" {
					t.Fatalf("message %d: rejection %+v", i, rej)
				}
				continue
			}
			raw, err := json.Marshal(m.Event)
			if err != nil {
				t.Fatalf("message %d: marshal %+v: %v", i, m.Event, err)
			}
			// Sizes aside: a message may be 32 KB, a /v1/batch event 16.
			lim := in.Limits
			lim.MaxEventBytes = 1 << 20
			if _, rej := event.DecodeEvent(raw, lim); rej != nil {
				t.Fatalf("message %d maps to %s, which /v1/batch refuses: %+v", i, raw, rej)
			}
		}
	})
}
