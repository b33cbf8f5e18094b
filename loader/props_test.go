package loader

import (
	"encoding/json"
	"testing"

	"github.com/footfall/footfall/internal/event"
)

// TestPropsKeepTheirNumbers: a number in props reaches ClickHouse's
// props.value as the text the client sent, read from Kafka as the loader
// reads it.
func TestPropsKeepTheirNumbers(t *testing.T) {
	var e event.Event
	raw := `{"id":"x","type":"custom","props":{"max":9223372036854775807,"huge":1e308,"neg0":-0,"price":19.99,"qty":2,"s":"2","gift":true}}`
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"max": "9223372036854775807", "huge": "1e308", "neg0": "-0", "price": "19.99", "qty": "2", "s": "2", "gift": "true",
	} {
		if got := propString(e.Props[k]); got != want {
			t.Errorf("props.%s = %q, want %q", k, got, want)
		}
	}
	// Events built in Go (footfall generate) may hold float64.
	if got := propString(2.0); got != "2" {
		t.Errorf("propString(2.0) = %q", got)
	}
}
