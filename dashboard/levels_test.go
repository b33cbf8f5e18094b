package dashboard

import (
	"testing"
	"time"
)

// TestLevelCache: levels come back for the same figures of the same scope
// only, until they are levelTTL old; a figure not asked before makes the
// whole set unknown, so the caller estimates again.
func TestLevelCache(t *testing.T) {
	now := day("2024-03-04")
	l := newLevelCache()
	l.now = func() time.Time { return now }
	page, _ := lookupProperty("event:page")
	s := scope{site: "shop", from: day("2024-03-01"), to: day("2024-03-04"), levels: l}
	c := visitorCount{s: s, prop: &page, values: []string{"/", "/cart"}}

	if _, ok := l.get(c, c.values); ok {
		t.Fatal("an empty cache knows levels")
	}
	l.put(c, c.values, map[string]int{"/": 3})
	got, ok := l.get(c, c.values)
	if !ok || got["/"] != 3 || got["/cart"] != 0 {
		t.Errorf("get = %v, %v; want / at 3, /cart at 0", got, ok)
	}
	if _, ok := l.get(c, []string{"/", "/p/1"}); ok {
		t.Error("a value never counted is known")
	}
	other := c
	other.s.to = day("2024-03-05")
	if _, ok := l.get(other, c.values); ok {
		t.Error("another period's levels are known")
	}
	visits := c
	visits.visits = true
	if _, ok := l.get(visits, c.values); ok {
		t.Error("sessions_hourly's levels are events_hourly's")
	}
	now = now.Add(levelTTL + time.Second)
	if _, ok := l.get(c, c.values); ok {
		t.Error("levels outlive levelTTL")
	}

	var none *levelCache
	none.put(c, c.values, map[string]int{"/": 1})
	if _, ok := none.get(c, c.values); ok {
		t.Error("a nil cache knows levels")
	}
}
