package event

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
)

const goodID = "0b6f1c2e-4a1d-4f7e-9c55-3f2a1b0c9d8e"

// custom is a custom event with extra members appended to the object.
func custom(extra string) string {
	return `{"id":"` + goodID + `","type":"custom","name":"x","ts":1,"anonymous_id":"a1"` + extra + `}`
}

// TestDecodeEventBadInput covers the decisions of docs/api.md, "Bad input".
func TestDecodeEventBadInput(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		reason Reason // empty: accepted
		detail string // a part of the rejection's detail
		id     string // the id the rejection names
	}{
		{"invalid UTF-8 in a string", custom(`,"props":{"city":"M` + "\xfc" + `nchen"}`), ReasonInvalidUTF8, "byte " + strconv.Itoa(strings.IndexByte(custom(`,"props":{"city":"M`+"\xfc"), 0xfc)), goodID},
		{"invalid UTF-8 in a name", custom(`,"props":{"` + "\xff" + `":"x"}`), ReasonInvalidUTF8, "", goodID},
		{"lone surrogate escaped: valid JSON, kept", custom(`,"props":{"t":"cut \ud83d"}`), "", "", ""},
		{"type twice", `{"id":"` + goodID + `","type":"pageview","ts":1,"anonymous_id":"a1","type":"identify"}`, ReasonDuplicateKey, `"type"`, goodID},
		{"type twice, other case", `{"id":"` + goodID + `","type":"pageview","ts":1,"anonymous_id":"a1","TYPE":"identify"}`, ReasonDuplicateKey, `"TYPE"`, goodID},
		{"type twice, escaped", `{"id":"` + goodID + `","type":"pageview","ts":1,"anonymous_id":"a1","\u0074ype":"identify"}`, ReasonDuplicateKey, `"type"`, goodID},
		{"search twice, Unicode folding", `{"id":"` + goodID + `","type":"search","ts":1,"anonymous_id":"a1","search":{"keyword":"a"},"ſearch":{"keyword":"b"}}`, ReasonDuplicateKey, `"ſearch"`, goodID},
		{"id twice names no id", `{"id":"` + goodID + `","id":"1b6f1c2e-4a1d-4f7e-9c55-3f2a1b0c9d8e","type":"pageview","ts":1,"anonymous_id":"a1"}`, ReasonDuplicateKey, `"id"`, ""},
		{"nested name twice", custom(`,"page":{"url":"https://a/","url":"https://b/"}`), ReasonDuplicateKey, `"page.url"`, goodID},
		{"props key twice", custom(`,"props":{"plan":"gold","plan":"free"}`), ReasonDuplicateKey, `"props.plan"`, goodID},
		{"props keys differ in case: two props", custom(`,"props":{"Plan":"gold","plan":"free"}`), "", "", ""},
		{"name twice in an ignored field", custom(`,"future":{"a":1,"a":2}`), ReasonDuplicateKey, `"future.a"`, goodID},
		{"many props, one twice", custom(`,"props":{` + manyProps(30) + `,"p7":1}`), ReasonDuplicateKey, `"props.p7"`, goodID},
		{"trailing data", custom(``) + `{}`, ReasonMalformedJSON, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, rej := DecodeEvent(json.RawMessage(tt.raw), DefaultLimits)
			if tt.reason == "" {
				if rej != nil {
					t.Fatalf("rejected: %+v", rej)
				}
				if e.ID != goodID {
					t.Fatalf("id = %q", e.ID)
				}
				return
			}
			if rej == nil {
				t.Fatalf("accepted, want %s", tt.reason)
			}
			if rej.Reason != tt.reason || !strings.Contains(rej.Detail, tt.detail) || rej.ID != tt.id {
				t.Fatalf("rejection %+v, want %s naming %q and id %q", rej, tt.reason, tt.detail, tt.id)
			}
		})
	}
}

func manyProps(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, `"p`+string(rune('0'+i/10))+string(rune('0'+i%10))+`":1`)
	}
	// p07 and p7 differ; p7 is added by the caller twice over p07's
	// neighbours to cross the switch from a list to a map.
	return strings.Join(parts, ",") + `,"p7":0`
}

// TestLoneSurrogateBecomesReplacement: what a kept lone surrogate turns into.
func TestLoneSurrogateBecomesReplacement(t *testing.T) {
	e, rej := DecodeEvent(json.RawMessage(custom(`,"props":{"t":"cut \ud83d"}`)), DefaultLimits)
	if rej != nil || e.Props["t"] != "cut \uFFFD" {
		t.Fatalf("got %+v %q", rej, e.Props["t"])
	}
}

// TestPropsNumbersAreExact: numbers in props reach Kafka as the text the
// client sent, not rounded through a float64.
func TestPropsNumbersAreExact(t *testing.T) {
	nums := []string{"9223372036854775807", "-9223372036854775808", "18446744073709551616", "1e308", "-0", "0.1", "1.50", "2"}
	var props []string
	for i, n := range nums {
		props = append(props, `"n`+string(rune('a'+i))+`":`+n)
	}
	e, rej := DecodeEvent(json.RawMessage(custom(`,"props":{`+strings.Join(props, ",")+`}`)), DefaultLimits)
	if rej != nil {
		t.Fatalf("rejected: %+v", rej)
	}
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nums {
		if want := `"n` + string(rune('a'+i)) + `":` + n; !strings.Contains(string(out), want) {
			t.Errorf("re-encoded event lacks %s: %s", want, out)
		}
	}
	var back Event // as a consumer (the loader) reads it from Kafka
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.Props["na"]; got != json.Number("9223372036854775807") {
		t.Errorf("a consumer reads %T %v, want the json.Number 9223372036854775807", got, got)
	}
}

func TestClientCannotSetDerivedSearchFields(t *testing.T) {
	e, rej := DecodeEvent(json.RawMessage(custom(`,"search_keyword":"spoof","page_url":"https://evil/","date":5`)), DefaultLimits)
	if rej != nil || e.SearchKeyword != "" || e.PageURL != "" || e.Date != 0 {
		t.Fatalf("got %+v %+v", rej, e)
	}
}

func TestPropsOfTheWrongTypeNameTheField(t *testing.T) {
	_, rej := DecodeEvent(json.RawMessage(custom(`,"props":5`)), DefaultLimits)
	if rej == nil || rej.Reason != ReasonInvalidField || !strings.HasPrefix(rej.Detail, "props:") || rej.ID != goodID {
		t.Fatalf("got %+v", rej)
	}
}

func TestDecodeBatchDuplicateKey(t *testing.T) {
	for _, tt := range []struct {
		body string
		err  error
	}{
		{`{"site":"a","events":[],"site":"b"}`, ErrDuplicateKey},
		{`{"site":"a","events":[],"EVENTS":[{"x":1}]}`, ErrDuplicateKey},
		{`{"site":"a","events":[{"type":"a","type":"b"}]}`, nil}, // the event's own business
		{`{"site":"a","events":[`, ErrMalformed},
	} {
		_, err := DecodeBatch([]byte(tt.body))
		if !errors.Is(err, tt.err) && (tt.err != nil || err != nil) {
			t.Errorf("DecodeBatch(%s) = %v, want %v", tt.body, err, tt.err)
		}
		want := ReasonMalformedJSON
		if tt.err == ErrDuplicateKey {
			want = ReasonDuplicateKey
		}
		if err != nil && ReasonOf(err) != want {
			t.Errorf("ReasonOf(%v) = %s, want %s", err, ReasonOf(err), want)
		}
	}
}
