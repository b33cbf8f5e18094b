package event

import (
	"slices"
	"testing"
)

func TestEveryTypeHasItsOwnTopic(t *testing.T) {
	all := AllTopics("ff")
	for _, s := range Specs() {
		if !slices.Contains(all, Topic("ff", s.Type)) {
			t.Errorf("AllTopics lacks %s's topic", s.Type)
		}
		if got, ok := SpecOf(s.Type); !ok || got.Type != s.Type {
			t.Errorf("SpecOf(%s) = %v, %v", s.Type, got.Type, ok)
		}
	}
	for _, other := range []string{InvalidTopic("ff"), PromotionUpdatesTopic("ff"), DeadTopic("ff"), LogsTopic("ff"), ReviewsTopic("ff"), SuppressionsTopic("ff")} {
		if !slices.Contains(all, other) {
			t.Errorf("AllTopics lacks %s", other)
		}
	}
	if unique := slices.Compact(slices.Sorted(slices.Values(all))); len(unique) != len(all) {
		t.Errorf("AllTopics repeats a topic: %v", all)
	}
	if len(EventTopics("ff")) != len(Types()) {
		t.Errorf("EventTopics has %d topics for %d types", len(EventTopics("ff")), len(Types()))
	}
	if _, ok := SpecOf("teleport"); ok {
		t.Error("SpecOf accepts a type the envelope lacks")
	}
}

// Every type validates with the envelope alone plus what its Check asks
// for, so no type quietly requires a field its Spec does not mention.
func TestEveryTypeAcceptsAMinimalEvent(t *testing.T) {
	for _, s := range Specs() {
		e := Event{ID: "0b6f1c2e-4a1d-4f7e-9c55-3f2a1b0c9d8e", Type: s.Type, TS: 1, AnonymousID: "a1",
			Name: "n", UserID: "u1", Search: &SearchDetail{Keyword: "k"}}
		if r := Validate(&e, DefaultLimits); r != nil {
			t.Errorf("%s: minimal event rejected: %+v", s.Type, r)
		}
	}
}

func TestDeriveSearchKeepsTheFlatFields(t *testing.T) {
	e := Event{Type: Search, TS: 1700000000123, UserID: "u1",
		Page: &Page{URL: "https://shop/search?q=Humidifier"}, Search: &SearchDetail{Keyword: "Humidifier"}}
	Derive(&e)
	if e.UserID != "u1" || e.PageURL != "https://shop/search?q=Humidifier" || e.SearchKeyword != "Humidifier" || e.Date != 1700000000123 {
		t.Fatalf("flat fields = %q %q %q %d", e.UserID, e.PageURL, e.SearchKeyword, e.Date)
	}
	click := Event{Type: Click, TS: 1, Page: &Page{URL: "https://shop/"}}
	Derive(&click)
	if click.PageURL != "" || click.Date != 0 {
		t.Fatalf("a click got search's flat fields: %+v", click)
	}
}
