package alerts

import (
	"testing"
	"time"
)

func TestWindowOf(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name       string
		t          string
		size       time.Duration
		start, end string
	}{
		{"inside a minute", "2026-12-02T10:00:42.250Z", time.Minute, "2026-12-02T10:00:00Z", "2026-12-02T10:01:00Z"},
		{"on a boundary: the window it starts", "2026-12-02T10:01:00Z", time.Minute, "2026-12-02T10:01:00Z", "2026-12-02T10:02:00Z"},
		{"a millisecond before the boundary", "2026-12-02T10:00:59.999Z", time.Minute, "2026-12-02T10:00:00Z", "2026-12-02T10:01:00Z"},
		{"another zone, same instant", "2026-12-02T11:00:42+01:00", time.Minute, "2026-12-02T10:00:00Z", "2026-12-02T10:01:00Z"},
		{"five minutes", "2026-12-02T10:07:00Z", 5 * time.Minute, "2026-12-02T10:05:00Z", "2026-12-02T10:10:00Z"},
		// 7 s does not divide a day: aligned to the epoch (10:00:00 is
		// 1796205600 s, a multiple of 7; that day's midnight is not).
		{"epoch-aligned odd length", "2026-12-02T10:00:03Z", 7 * time.Second, "2026-12-02T10:00:00Z", "2026-12-02T10:00:07Z"},
		{"a day", "2026-12-02T23:59:59Z", 24 * time.Hour, "2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z"},
		{"before 1970 rounds down", "1969-12-31T23:59:30Z", time.Minute, "1969-12-31T23:59:00Z", "1970-01-01T00:00:00Z"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := windowOf(at(c.t), c.size)
			if !w.start.Equal(at(c.start)) || !w.end.Equal(at(c.end)) {
				t.Errorf("windowOf(%s, %s) = [%s, %s), want [%s, %s)", c.t, c.size, w.start, w.end, c.start, c.end)
			}
			if w.size() != c.size {
				t.Errorf("size %s, want %s", w.size(), c.size)
			}
			if n := w.next(); !n.start.Equal(w.end) || n.size() != c.size {
				t.Errorf("next of [%s, %s) = [%s, %s)", w.start, w.end, n.start, n.end)
			}
		})
	}
}

func TestWindowSettled(t *testing.T) {
	w := windowOf(time.Date(2026, 12, 2, 10, 0, 30, 0, time.UTC), time.Minute) // [10:00, 10:01)
	lateness := 5 * time.Second
	for _, c := range []struct {
		now  time.Time
		want bool
	}{
		{time.Date(2026, 12, 2, 10, 0, 59, 0, time.UTC), false},
		{time.Date(2026, 12, 2, 10, 1, 4, 0, time.UTC), false},
		{time.Date(2026, 12, 2, 10, 1, 5, 0, time.UTC), true},
		{time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC), true},
	} {
		if got := w.settled(c.now, lateness); got != c.want {
			t.Errorf("settled at %s = %v, want %v", c.now.Format("15:04:05"), got, c.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	initial, ceiling := 2*time.Second, 30*time.Second
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := retryAfter(initial, ceiling, i+1); got != w {
			t.Errorf("after attempt %d: wait %s, want %s", i+1, got, w)
		}
	}
	if got := retryAfter(initial, ceiling, 1000); got != ceiling {
		t.Errorf("after attempt 1000: wait %s, want the ceiling %s", got, ceiling)
	}
}
