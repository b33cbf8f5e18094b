package privacy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/footfall/footfall/internal/kafka"
)

func newSet() *Suppressions {
	return empty(kafka.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func rec(t *testing.T, s Suppression) kafka.Record {
	t.Helper()
	r, err := s.record("test")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSuppressions: an id is suppressed for its site only, by either
// field of an event, until a later record lifts it; what is not a
// suppression changes nothing.
func TestSuppressions(t *testing.T) {
	s := newSet()
	s.take(rec(t, Suppression{Site: "shop", ID: "user-a", Kind: KindUser}))
	s.take(rec(t, Suppression{Site: "shop", ID: "anon-a", Kind: KindAnonymous, User: "user-a"}))
	s.take(kafka.Record{Value: []byte(`not json`)})
	s.take(kafka.Record{Value: []byte(`{"site":"shop"}`)})
	tests := []struct {
		site, anon, user string
		want             bool
	}{
		{"shop", "anon-a", "", true},
		{"shop", "", "user-a", true},
		{"shop", "anon-b", "user-a", true},
		{"shop", "anon-a", "user-b", true},
		{"shop", "anon-b", "user-b", false},
		{"shop", "", "", false},
		{"other", "anon-a", "user-a", false},
	}
	for _, tc := range tests {
		if got := s.Suppressed(tc.site, tc.anon, tc.user); got != tc.want {
			t.Errorf("Suppressed(%q, %q, %q) = %v, want %v", tc.site, tc.anon, tc.user, got, tc.want)
		}
	}
	if got := s.AnonymousIDsOf("shop", "user-a"); !slices.Equal(got, []string{"anon-a"}) {
		t.Errorf("AnonymousIDsOf = %v", got)
	}
	s.take(rec(t, Suppression{Site: "shop", ID: "anon-a", Kind: KindAnonymous, User: "user-a", Lifted: true}))
	if s.Suppressed("shop", "anon-a", "") || !s.Suppressed("shop", "", "user-a") || s.Len() != 1 {
		t.Errorf("after lifting anon-a: anon-a %v, user-a %v, %d ids", s.Suppressed("shop", "anon-a", ""), s.Suppressed("shop", "", "user-a"), s.Len())
	}
}

// TestSuppressionsReady: the set is ready once every partition that held
// records has been read to where it ended.
func TestSuppressionsReady(t *testing.T) {
	s := newSet()
	end := map[int32]int64{0: 3, 2: 1}
	s.caughtUpTo(end, -1, 0)
	s.caughtUpTo(end, 0, 1)
	s.caughtUpTo(end, 2, 0)
	if s.Ready(context.Background()) == nil {
		t.Fatal("ready before partition 0 was read to its end")
	}
	s.caughtUpTo(end, 0, 2)
	if err := s.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSuppressionRecord: the record's key and value are what
// docs/privacy.md shows.
func TestSuppressionRecord(t *testing.T) {
	r := rec(t, Suppression{Site: "shop", ID: "anon-a", Kind: KindAnonymous, User: "user-a"})
	var got map[string]any
	if err := json.Unmarshal(r.Value, &got); err != nil {
		t.Fatal(err)
	}
	if string(r.Key) != "shop:anon-a" || r.Topic != "test.suppressions" || got["kind"] != "anonymous" || got["user"] != "user-a" {
		t.Errorf("record %s %s %v", r.Topic, r.Key, got)
	}
}
