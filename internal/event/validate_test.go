package event

import (
	"encoding/json"
	"testing"
)

func TestDecodeEvent(t *testing.T) {
	const id = "0b6f1c2e-4a1d-4f7e-9c55-3f2a1b0c9d8e"
	tests := []struct {
		name   string
		raw    string
		reason Reason // empty: accepted
	}{
		{"pageview", `{"id":"` + id + `","type":"pageview","ts":1700000000000,"anonymous_id":"a1","page":{"url":"https://shop/"}}`, ""},
		{"search", `{"id":"` + id + `","type":"search","ts":1,"anonymous_id":"a1","search":{"keyword":"humidifier"}}`, ""},
		{"server-side user only", `{"id":"` + id + `","type":"custom","name":"signup","ts":1,"user_id":"u1"}`, ""},
		{"unknown fields are ignored", `{"id":"` + id + `","type":"pageview","ts":1,"anonymous_id":"a1","future":true}`, ""},
		{"missing id", `{"type":"pageview","ts":1,"anonymous_id":"a1"}`, ReasonMissingID},
		{"id not a uuid", `{"id":"123","type":"pageview","ts":1,"anonymous_id":"a1"}`, ReasonInvalidID},
		{"unknown type", `{"id":"` + id + `","type":"teleport","ts":1,"anonymous_id":"a1"}`, ReasonUnknownType},
		{"missing ts", `{"id":"` + id + `","type":"pageview","anonymous_id":"a1"}`, ReasonMissingTS},
		{"ts is a string", `{"id":"` + id + `","type":"pageview","ts":"yesterday","anonymous_id":"a1"}`, ReasonInvalidField},
		{"page is a number", `{"id":"` + id + `","type":"pageview","ts":1,"anonymous_id":"a1","page":7}`, ReasonInvalidField},
		{"no identity", `{"id":"` + id + `","type":"pageview","ts":1}`, ReasonMissingUser},
		{"custom without name", `{"id":"` + id + `","type":"custom","ts":1,"anonymous_id":"a1"}`, ReasonMissingName},
		{"identify without user", `{"id":"` + id + `","type":"identify","ts":1,"anonymous_id":"a1"}`, ReasonMissingUser},
		{"search without keyword", `{"id":"` + id + `","type":"search","ts":1,"anonymous_id":"a1","search":{"keyword":"  "}}`, ReasonMissingKeyword},
		{"nested props", `{"id":"` + id + `","type":"custom","name":"x","ts":1,"anonymous_id":"a1","props":{"a":{"b":1}}}`, ReasonInvalidProps},
		{"not an object", `[1,2]`, ReasonInvalidField},
		{"truncated", `{"id":`, ReasonMalformedJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, rej := DecodeEvent(json.RawMessage(tt.raw), DefaultLimits)
			if tt.reason == "" {
				if rej != nil {
					t.Fatalf("rejected: %+v", rej)
				}
				if e.ID != id {
					t.Fatalf("id = %q", e.ID)
				}
				return
			}
			if rej == nil {
				t.Fatalf("accepted, want %s", tt.reason)
			}
			if rej.Reason != tt.reason {
				t.Fatalf("reason = %s (%s), want %s", rej.Reason, rej.Detail, tt.reason)
			}
		})
	}
}

func TestDecodeEventTooLarge(t *testing.T) {
	lim := Limits{MaxEventBytes: 64, MaxProps: 5}
	raw := `{"id":"0b6f1c2e-4a1d-4f7e-9c55-3f2a1b0c9d8e","type":"pageview","ts":1,"anonymous_id":"a1"}`
	if _, rej := DecodeEvent(json.RawMessage(raw), lim); rej == nil || rej.Reason != ReasonEventTooLarge {
		t.Fatalf("got %+v, want %s", rej, ReasonEventTooLarge)
	}
}

func TestRejectionNamesIDOfBadlyTypedEvent(t *testing.T) {
	raw := `{"id":"0b6f1c2e-4a1d-4f7e-9c55-3f2a1b0c9d8e","type":"pageview","ts":"x","anonymous_id":"a1"}`
	_, rej := DecodeEvent(json.RawMessage(raw), DefaultLimits)
	if rej == nil || rej.ID != "0b6f1c2e-4a1d-4f7e-9c55-3f2a1b0c9d8e" {
		t.Fatalf("rejection %+v does not name the event", rej)
	}
}

func TestKeyAndTopics(t *testing.T) {
	e := Event{SiteID: "demo", AnonymousID: "anon", UserID: "u"}
	if got := e.Key(); got != "demo:anon" {
		t.Errorf("Key = %q", got)
	}
	e.AnonymousID = ""
	if got := e.Key(); got != "demo:u" {
		t.Errorf("Key without anonymous id = %q", got)
	}
	if got := Topic("footfall.", Search); got != "footfall.search" {
		t.Errorf("Topic = %q", got)
	}
}
