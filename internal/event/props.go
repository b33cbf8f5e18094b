package event

import (
	"bytes"
	"encoding/json"
)

// Props are an event's custom properties: a flat map of strings, numbers
// and booleans.
//
// A number is kept as the JSON text the client sent (a json.Number), never
// as a float64: an order id of 9223372036854775807 would otherwise become
// 9223372036854775808 on its way to Kafka, and every consumer decoding an
// Event reads the same exact text (the loader stores it in ClickHouse's
// props.value as it is). Events built in Go may still hold float64 values.
type Props map[string]any

// UnmarshalJSON decodes numbers as json.Number, and no props as nil.
func (p *Props) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return err // a type error: the decoder of the event names the field
	}
	if len(m) == 0 {
		m = nil // as it is encoded: props are left out when empty
	}
	*p = m
	return nil
}
