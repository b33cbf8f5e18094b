package loader

import (
	"testing"
	"time"
)

func TestExpired(t *testing.T) {
	cutoff := time.Date(2026, 11, 15, 13, 0, 0, 0, time.UTC)
	tests := []struct {
		id    string
		daily bool
		want  bool
	}{
		{"20261113", true, true},  // ended on the 14th
		{"20261114", true, true},  // ended at midnight, before the cutoff
		{"20261115", true, false}, // holds the cutoff
		{"202610", false, true},   // October ended before
		{"202611", false, false},  // November holds the cutoff
		{"tuple()", false, false}, // not a date: kept
		{"20261301", true, false}, // not a date: kept
	}
	for _, tt := range tests {
		if got := expired(tt.id, tt.daily, cutoff); got != tt.want {
			t.Errorf("expired(%s, daily=%v) = %v, want %v", tt.id, tt.daily, got, tt.want)
		}
	}
}
