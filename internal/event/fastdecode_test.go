package event

import "testing"

// TestDecodeFast names what the fast decoder takes and what it leaves to
// encoding/json; checkFast holds what it takes to encoding/json's result.
func TestDecodeFast(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		fast bool
	}{
		{fuzzSeeds[0], true},
		{fuzzSeeds[1], true},
		{fuzzSeeds[2], true},
		{fuzzSeeds[3], true},
		{fuzzSeeds[4], true},
		{fuzzSeeds[5], true},
		{custom(`,"props":{"n":9223372036854775807,"f":1e308,"z":-0,"b":true,"s":"é","o":false}`), true},
		{" \n" + custom(`,"props":{}`) + "\t ", true},
		{`{}`, true},
		{`{"page":{},"context":{"utm":{}},"search":{"keyword":"","results":-0}}`, true},
		{custom(`,"props":{"Plan":"a","plan":"b"}`), true},
		{custom(`,"props":{"plan":"a","plan":"b"}`), false},
		{custom(`,"props":{"t":"cut \ud83d"}`), true},
		{custom(`,"page":{"url":"https://shop.example/?q=a\u0026utm_source=b","title":"\"Deals\"\n\u00e9\ud83d\ude00"}`), true},
		{custom(`,"props":{"\u0070lan":"a"}`), false},
		{custom(`,"\u0070age":{"url":"a"}`), false},
		{custom(`,"props":{"a":{"b":1}}`), false},
		{custom(`,"props":{"a":null}`), false},
		{custom(`,"props":null`), false},
		{custom(`,"page":null`), false},
		{custom(`,"TYPE":"identify"`), false},
		{custom(`,"ſearch":{"keyword":"x"}`), false},
		{custom(`,"future":1`), false},
		{custom(`,"site_id":"spoof"`), false},
		{custom(`,"search_keyword":"spoof","date":5`), false},
		{custom(`,"id":"x"`), false},
		{custom(`,"page":{"url":"a","url":"b"}`), false},
		{custom(`,"page":{"URL":"a"}`), false},
		{`{"id":"` + goodID + `","type":"pageview","ts":1.0,"anonymous_id":"a1"}`, false},
		{`{"id":"` + goodID + `","type":"pageview","ts":1e3,"anonymous_id":"a1"}`, false},
		{`{"id":"` + goodID + `","type":"pageview","ts":99999999999999999999,"anonymous_id":"a1"}`, false},
		{`{"id":"` + goodID + `","type":"pageview","ts":01,"anonymous_id":"a1"}`, false},
		{`{"id":"` + goodID + `","type":"pageview","ts":"x","anonymous_id":"a1"}`, false},
		{`{"id":1}`, false},
		{`{"id":"a` + "\t" + `"}`, false},
		{`{"id":"a"}x`, false},
		{`{"id":"a",}`, false},
		{`{"id":"a"`, false},
		{`{"scroll":{"depth_pct":truex}}`, false},
		{`[1,2]`, false},
		{`null`, false},
	} {
		var e Event
		if got := decodeFast([]byte(tc.raw), &e); got != tc.fast {
			t.Errorf("decodeFast(%s) = %v, want %v", tc.raw, got, tc.fast)
		}
		checkFast(t, []byte(tc.raw))
	}
}

func TestDecodeBatchFast(t *testing.T) {
	ev := fuzzSeeds[0]
	for _, tc := range []struct {
		body string
		fast bool
	}{
		{`{"site":"wk","events":[` + ev + `,` + ev + `]}`, true},
		{` {"sent_at":-5 , "events" : [ ` + ev + ` ] ,"site":"wk"} `, true},
		{`{"site":"wk","events":[]}`, true},
		{`{"site":"wk"}`, true},
		{`{}`, true},
		{`{"site":"wk","events":[` + fuzzSeeds[12] + `]}`, true},
		{`{"site":"wk","events":[{"a":"}]\"{"},{}]}`, true},
		{`{"site":"wk","events":[{"id":"\u0041"},{"TYPE":1},` + ev + `]}`, true},
		{`{"site":"wk","events":[{"id":"a",}]}`, false},
		{`{"site":"wk","events":[{"id":"a" "b"}]}`, false},
		{`{"site":"wk","events":[{"id":tru}]}`, false},
		{`{"site":"wk","events":[1]}`, false},
		{`{"site":"wk","events":[null]}`, false},
		{`{"site":"wk","events":null}`, false},
		{`{"site":"wk","events":{}}`, false},
		{`{"site":"w\u006b","events":[]}`, false},
		{`{"site":"w` + "\xff" + `","events":[]}`, false},
		{`{"site":null,"events":[]}`, false},
		{`{"site":"wk","events":[],"site":"other"}`, false},
		{`{"site":"wk","Events":[]}`, false},
		{`{"site":"wk","sent_at":1.5,"events":[]}`, false},
		{`{"site":"wk","sent_at":1e3,"events":[]}`, false},
		{`{"site":"wk","batch":[]}`, false},
		{`{"batch":[{"type":"track"}]}`, false},
		{`[1]`, false},
	} {
		_, got := decodeBatchFast([]byte(tc.body))
		if got != tc.fast {
			t.Errorf("decodeBatchFast(%s) = %v, want %v", tc.body, got, tc.fast)
		}
		checkBatchFast(t, []byte(tc.body))
	}
}
