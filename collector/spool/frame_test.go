package spool

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/kafka"
)

func TestFrameRoundTrip(t *testing.T) {
	at := time.Unix(1_700_000_000, 123_456_789)
	for _, c := range []struct {
		name string
		recs []kafka.Record
	}{
		{"one record", []kafka.Record{{Topic: "footfall.pageview", Key: []byte("shop:a"), Value: []byte(`{"id":"1"}`)}}},
		{"nil and empty keys and values stay apart", []kafka.Record{
			{Topic: "t", Key: nil, Value: []byte{}},
			{Topic: "t", Key: []byte{}, Value: nil},
		}},
		{"headers and a timestamp", []kafka.Record{{
			Topic: "footfall.dead", Key: []byte("k"), Value: []byte("v"),
			Headers:   []kafka.Header{{Key: "footfall-dead-reason", Value: []byte("bad")}, {Key: "empty", Value: []byte{}}, {Key: "nil"}},
			Timestamp: time.Unix(1_700_000_001, 5),
		}}},
		{"a large value", []kafka.Record{{Topic: "t", Value: []byte(strings.Repeat("x", 300_000))}}},
		{"a beacon batch", beaconBatch(0, 10)},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := encodeFrame(at, c.recs)
			gotAt, got, n, err := parseFrame(append(b, "next frame"...))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if n != len(b) || !gotAt.Equal(at) {
				t.Errorf("n, appended = %d, %v; want %d, %v", n, gotAt, len(b), at)
			}
			if !reflect.DeepEqual(got, c.recs) {
				t.Errorf("records differ:\n got %+v\nwant %+v", got, c.recs)
			}
		})
	}
}

// Every torn length and every flipped byte of a frame is caught: CRC-32C
// detects any error burst of up to 32 bits.
func TestFrameDetectsDamage(t *testing.T) {
	b := encodeFrame(time.Now(), beaconBatch(0, 3))
	for n := range len(b) {
		if _, _, _, err := parseFrame(b[:n]); err == nil {
			t.Fatalf("a frame cut to %d of %d bytes parsed", n, len(b))
		}
	}
	for i := range b {
		d := append([]byte(nil), b...)
		d[i] ^= 0x5a
		if _, _, _, err := parseFrame(d); err == nil {
			t.Fatalf("a frame with byte %d flipped parsed", i)
		}
	}
}
