package collector

import "time"

// maxBrowserAge bounds how long ago a browser may say an event happened.
// The beacon keeps unsent events until the shop's next page, but a month
// is the loader's bound for a believable client time too: older than
// that, a browser's clock or its word is wrong.
const maxBrowserAge = 31 * 24 * time.Hour

// eventTime is the time an event gets downstream (its ts), in epoch ms,
// from the client's ts, the batch's sent_at (0 when absent) and when the
// collector received the batch.
//
// As Segment does, a batch that says when it was sent has each event's
// time shifted by received - sent_at: a client's clock may be off by
// hours, but the time between an event and its sending is right on any
// clock. A server key's time is otherwise believed as given, to load
// history with. A browser's is not: only that age counts, between zero
// and maxBrowserAge, measured back from received; a browser that sends no
// sent_at, or an age out of bounds, gets received itself.
func eventTime(ts, sentAt, received int64, server bool) int64 {
	switch {
	case server && sentAt > 0:
		return ts + received - sentAt
	case server:
		return ts
	case sentAt <= 0:
		return received
	}
	if age := sentAt - ts; age >= 0 && age <= maxBrowserAge.Milliseconds() {
		return received - age
	}
	return received
}
