package alerts

import (
	"testing"
	"time"
)

// A receiver's Retry-After is read as seconds or as an HTTP date, and
// nothing else delays a retry.
func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for header, want := range map[string]time.Duration{
		"":                              0,
		"120":                           2 * time.Minute,
		" 3 ":                           3 * time.Second,
		"-5":                            0,
		"999999999":                     24 * time.Hour,
		"Wed, 02 Dec 2026 10:01:30 GMT": 90 * time.Second,
		"Wed, 02 Dec 2026 09:59:00 GMT": 0,
		"soon":                          0,
	} {
		if got := retryAfterHeader(header, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", header, got, want)
		}
	}
}
