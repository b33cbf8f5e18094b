package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// The decoders face whatever the internet sends. `go test` runs the seeds
// below and those in testdata/fuzz/<FuzzName>/; to search for more, one
// target at a time and on one core so the shared machine keeps working:
//
//	go test -run '^$' -fuzz '^FuzzDecodeEvent$' -fuzztime 10m -parallel 1 ./internal/event/
//
// A failing input is written to testdata/fuzz/<FuzzName>/ and stays there
// as a regression test once fixed. Copy inputs worth keeping from the
// cache (go env GOCACHE, fuzz/github.com/footfall/footfall/internal/event/)
// too.
//
// Another wire format's decoder (Segment's /v1/track, /v1/batch, …) gets a
// target of the same shape beside it, in its own package: seeds of its
// documented payloads, then the same invariants on what it produces: no
// panic; an accepted event passes Validate, survives json.Marshal and
// DecodeEvent unchanged, and keeps the limits; a rejected one has a reason;
// one bad event in a batch leaves the others accepted.

// fuzzLimits are small, so that the fuzzer reaches them.
var fuzzLimits = Limits{MaxEventBytes: 600, MaxProps: 4}

var fuzzSeeds = []string{
	`{"id":"` + goodID + `","type":"pageview","ts":1700000000000,"anonymous_id":"a1","page":{"url":"https://shop/","path":"/","title":"Shop","referrer":""},"context":{"locale":"de-DE","tz":"Europe/Berlin","screen":"390x844","utm":{"source":"news"}}}`,
	`{"id":"` + goodID + `","type":"search","ts":1,"anonymous_id":"a1","search":{"keyword":"humidifier","results":3}}`,
	`{"id":"` + goodID + `","type":"click","ts":1,"anonymous_id":"a1","click":{"selector":"a.deal","text":"30% off","href":"/d","tag":"a"}}`,
	`{"id":"` + goodID + `","type":"scroll","ts":1,"anonymous_id":"a1","scroll":{"depth_pct":75}}`,
	`{"id":"` + goodID + `","type":"form_submit","ts":1,"anonymous_id":"a1","form":{"form_id":"nl","action":"/s"}}`,
	`{"id":"` + goodID + `","type":"identify","ts":1,"anonymous_id":"a1","user_id":"u1"}`,
	custom(`,"props":{"n":9223372036854775807,"f":1e308,"z":-0,"b":true}`),
	custom(`,"props":{"Plan":"a","plan":"b"}`),
	custom(`,"props":{"plan":"a","plan":"b"}`),
	custom(`,"props":{"t":"cut \ud83d","e":"\u00e9\"\\/"}`),
	custom(`,"TYPE":"identify"`),
	custom(`,"ſearch":{"keyword":"x"}`),
	custom(`,"props":{"city":"M` + "\xfc" + `nchen"}`),
	custom(`,"props":{"a":{"b":1}}`),
	custom(`,"future":[{"a":1,"a":2}]`),
	custom(`,"search_keyword":"spoof","date":5`),
	`{"id":"` + goodID + `","type":"pageview","ts":"x","anonymous_id":"a1"}`,
	`{"id":`,
	`[1,2]`,
	`null`,
	`"x"`,
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		duplicateKey(raw, true) // on text that is no JSON too: must end
		if len(raw) <= fuzzLimits.MaxEventBytes && json.Valid(raw) && utf8.Valid(raw) {
			_, got := duplicateKey(raw, false)
			if want := refDuplicate(t, raw, false); got != want {
				t.Fatalf("duplicateKey = %v, reference says %v", got, want)
			}
		}
		checkFast(t, raw)
		e, rej := DecodeEvent(raw, fuzzLimits)
		if rej != nil {
			if e != nil || rej.Reason == "" {
				t.Fatalf("rejection %+v came with event %v", rej, e)
			}
			return
		}
		checkAccepted(t, raw, e)
	})
}

// checkFast holds decodeFast to encoding/json and the duplicate scan:
// what it decodes, they decode to the same event, without a rejection.
func checkFast(t *testing.T, raw []byte) {
	t.Helper()
	var fast Event
	if !utf8.Valid(raw) || !decodeFast(raw, &fast) {
		return
	}
	var slow Event
	if rej := decodeJSON(raw, &slow); rej != nil {
		t.Fatalf("decodeFast took %q, encoding/json rejects it: %+v", raw, rej)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decodeFast and encoding/json differ on %q:\n%#v\n%#v", raw, fast, slow)
	}
}

// checkBatchFast holds decodeBatchFast to encoding/json and the
// duplicate scan, as checkFast does decodeFast.
func checkBatchFast(t *testing.T, body []byte) {
	t.Helper()
	fast, ok := decodeBatchFast(body)
	if !ok {
		return
	}
	slow, err := decodeBatchJSON(body)
	if err != nil {
		t.Fatalf("decodeBatchFast took %q, encoding/json rejects it: %v", body, err)
	}
	for i, e := range fast.decoded {
		switch {
		case e == nil:
			continue
		case !utf8.Valid(fast.Events[i]):
			t.Fatalf("decodeBatchFast kept event %d, not UTF-8: %q", i, fast.Events[i])
		}
		var want Event
		if rej := decodeJSON(fast.Events[i], &want); rej != nil || !reflect.DeepEqual(*e, want) {
			t.Fatalf("decodeBatchFast decoded event %d of %q as\n%#v\nencoding/json: %#v, %+v", i, body, *e, want, rej)
		}
	}
	if len(fast.decoded) != len(fast.Events) {
		t.Fatalf("%d events, %d decoded", len(fast.Events), len(fast.decoded))
	}
	fast.decoded = nil
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decodeBatchFast and encoding/json differ on %q:\n%#v\n%#v", body, fast, slow)
	}
}

// checkAccepted holds the invariants of an event DecodeEvent accepted.
func checkAccepted(t *testing.T, raw []byte, e *Event) {
	t.Helper()
	switch {
	case e == nil:
		t.Fatal("no event and no rejection")
	case len(raw) > fuzzLimits.MaxEventBytes:
		t.Fatalf("accepted %d bytes over the limit of %d", len(raw), fuzzLimits.MaxEventBytes)
	case len(e.Props) > fuzzLimits.MaxProps:
		t.Fatalf("accepted %d props over the limit of %d", len(e.Props), fuzzLimits.MaxProps)
	case !utf8.Valid(raw):
		t.Fatal("accepted text that is not UTF-8")
	case !json.Valid(raw):
		t.Fatal("accepted text that is not JSON")
	case refDuplicate(t, raw, false):
		t.Fatal("accepted an object with a name twice")
	case Validate(e, fuzzLimits) != nil:
		t.Fatalf("accepted an event Validate refuses: %+v", Validate(e, fuzzLimits))
	case e.PageURL != "" || e.SearchKeyword != "" || e.Date != 0:
		t.Fatal("kept derived fields the client sent")
	}
	for k, v := range e.Props {
		if _, ok := v.(float64); ok {
			t.Fatalf("props.%s decoded as a float64: numbers must stay exact", k)
		}
	}
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("accepted event does not encode: %v", err)
	}
	if app, err := e.AppendJSON(nil); err != nil || !bytes.Equal(app, out) {
		t.Fatalf("AppendJSON = %s, %v; json.Marshal = %s", app, err, out)
	}
	again, rej := DecodeEvent(out, Limits{MaxEventBytes: 1 << 20, MaxProps: fuzzLimits.MaxProps})
	if rej != nil {
		t.Fatalf("re-encoded event %s is rejected: %+v", out, rej)
	}
	if !reflect.DeepEqual(e, again) {
		t.Fatalf("re-encoded event decodes differently:\n%#v\n%#v", e, again)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"site":"wk","events":[` + fuzzSeeds[0] + `,` + fuzzSeeds[1] + `]}`))
	f.Add([]byte(`{"site":"wk","events":[],"site":"other"}`))
	f.Add([]byte(`{"site":"wk","sent_at":1,"Events":[{}],"events":[1]}`))
	f.Add([]byte(`{"site":"wk","events":[` + fuzzSeeds[12] + `]}`))
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	good := fuzzSeeds[0]
	f.Fuzz(func(t *testing.T, body []byte) {
		checkBatchFast(t, body)
		b, err := DecodeBatch(body)
		if err == nil {
			if !json.Valid(body) {
				t.Fatal("accepted a body that is not JSON")
			}
			if utf8.Valid(body) && refDuplicate(t, body, true) {
				t.Fatal("accepted an envelope with a name twice")
			}
			for _, raw := range b.Events {
				checkFast(t, raw)
				if e, rej := DecodeEvent(raw, fuzzLimits); rej == nil {
					checkAccepted(t, raw, e)
				}
			}
		} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrDuplicateKey) {
			t.Fatalf("DecodeBatch error %v is neither sentinel", err)
		}

		// Whatever one event is, as long as the batch is JSON, the good
		// events beside it are decoded and accepted.
		if !json.Valid(body) {
			return
		}
		b, err = DecodeBatch([]byte(`{"site":"wk","events":[` + good + `,` + string(body) + `,` + good + `]}`))
		if err != nil {
			t.Fatalf("a batch around %q is refused: %v", body, err)
		}
		if len(b.Events) != 3 {
			t.Fatalf("%d events, want 3", len(b.Events))
		}
		for _, i := range []int{0, 2} {
			if _, rej := DecodeEvent(b.Events[i], fuzzLimits); rej != nil {
				t.Fatalf("good event %d rejected beside %q: %+v", i, body, rej)
			}
		}
	})
}

// refDuplicate is duplicateKey done slowly with encoding/json's tokenizer:
// the reference the fuzzer holds the scanner to. raw is valid UTF-8 JSON.
func refDuplicate(t *testing.T, raw []byte, topOnly bool) bool {
	type frame struct {
		object bool
		names  []string
		exact  bool // names compare exactly: within the top-level props
		key    bool // the next token of an object is a name
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // 2e700 is valid JSON, if no float64
	var stack []*frame
	exactNext := false // the value about to start is props of the top level
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false
		}
		if err != nil {
			t.Fatalf("reference tokenizer: %v on %q", err, raw)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			name, _ := tok.(string)
			if d, isDelim := tok.(json.Delim); isDelim && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			check := !topOnly || len(stack) == 1
			for _, n := range top.names {
				if check && (top.exact && n == name || !top.exact && strings.EqualFold(n, name)) {
					return true
				}
			}
			top.names = append(top.names, name)
			top.key = false
			exactNext = top.exact || len(stack) == 1 && strings.EqualFold(name, "props")
			continue
		}
		exact := exactNext || top != nil && top.exact
		exactNext = false
		if top != nil && top.object {
			top.key = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, key: true, exact: exact})
		case json.Delim('['):
			stack = append(stack, &frame{exact: exact})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].key = true
			}
		}
	}
}
