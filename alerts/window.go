package alerts

import "time"

// window is one tumbling window of a rule: [start, end) on the records'
// own time.
type window struct{ start, end time.Time }

// windowOf returns the window of length size that holds t. Windows are
// aligned to the Unix epoch, as ClickHouse's toStartOfInterval and
// Prometheus' step alignment are, so a rule's windows are the same
// whichever worker counts them and whenever it restarts. (time.Truncate
// would align to year 1, which differs for lengths that do not divide a
// day.)
func windowOf(t time.Time, size time.Duration) window {
	ms, step := t.UnixMilli(), size.Milliseconds()
	start := ms - ms%step
	if ms%step < 0 { // before 1970: round down, not toward zero
		start -= step
	}
	s := time.UnixMilli(start).UTC()
	return window{s, s.Add(size)}
}

// next is the window right after w, of the same length.
func (w window) next() window {
	size := w.end.Sub(w.start)
	return window{w.end, w.end.Add(size)}
}

// size is w's length.
func (w window) size() time.Duration { return w.end.Sub(w.start) }

// settled reports whether, at now, every record of w should have arrived:
// its end has passed by more than the lateness allowance.
func (w window) settled(now time.Time, lateness time.Duration) bool {
	return !now.Before(w.end.Add(lateness))
}
