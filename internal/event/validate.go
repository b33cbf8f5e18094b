package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Reason says why an event or a batch was rejected. Reasons are stable
// strings: clients read them and metrics are labelled with them.
type Reason string

// Rejection reasons. Batch-level ones reject the whole request; the rest
// reject one event and leave its neighbours alone.
const (
	ReasonMalformedJSON  Reason = "malformed_json"
	ReasonBodyTooLarge   Reason = "body_too_large"
	ReasonEmptyBatch     Reason = "empty_batch"
	ReasonTooManyEvents  Reason = "too_many_events"
	ReasonUnknownSite    Reason = "unknown_site"
	ReasonBadEncoding    Reason = "bad_content_encoding"
	ReasonInvalidField   Reason = "invalid_field_type"
	ReasonEventTooLarge  Reason = "event_too_large"
	ReasonMissingID      Reason = "missing_id"
	ReasonInvalidID      Reason = "invalid_id"
	ReasonUnknownType    Reason = "unknown_type"
	ReasonMissingTS      Reason = "missing_ts"
	ReasonMissingName    Reason = "missing_name"
	ReasonMissingKeyword Reason = "missing_search_keyword"
	ReasonMissingUser    Reason = "missing_identity"
	ReasonInvalidProps   Reason = "invalid_props"
	ReasonBadUserHash    Reason = "invalid_user_hash"
)

// Limits bound what one event may carry.
type Limits struct {
	MaxEventBytes int // size of one event's JSON
	MaxProps      int // entries in props
}

// DefaultLimits are generous for a browser and small enough that one client
// cannot fill a Kafka message.
var DefaultLimits = Limits{MaxEventBytes: 16 << 10, MaxProps: 50}

// Rejection is one event that did not pass, with the detail a developer
// needs to fix the sender.
type Rejection struct {
	Index  int    `json:"index"`
	ID     string `json:"id,omitempty"`
	Reason Reason `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// Batch is the request body of POST /v1/batch.
type Batch struct {
	Site   string            `json:"site"`
	Events []json.RawMessage `json:"events"`
}

// ErrMalformed is returned by DecodeBatch when the body is not a batch.
var ErrMalformed = errors.New("malformed batch")

// DecodeBatch parses the outer envelope only, so that one bad event cannot
// cost the others: each event is decoded on its own by DecodeEvent.
func DecodeBatch(body []byte) (*Batch, error) {
	var b Batch
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &b, nil
}

// DecodeEvent parses and validates one event of a batch.
func DecodeEvent(raw json.RawMessage, lim Limits) (*Event, *Rejection) {
	if len(raw) > lim.MaxEventBytes {
		return nil, &Rejection{Reason: ReasonEventTooLarge, Detail: fmt.Sprintf("%d bytes, limit %d", len(raw), lim.MaxEventBytes)}
	}
	var e Event
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&e); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, &Rejection{ID: peekID(raw), Reason: ReasonInvalidField, Detail: fmt.Sprintf("%s: got %s, want %s", te.Field, te.Value, te.Type)}
		}
		return nil, &Rejection{Reason: ReasonMalformedJSON, Detail: err.Error()}
	}
	if r := Validate(&e, lim); r != nil {
		return nil, r
	}
	return &e, nil
}

// Validate checks the fields a type requires. It does not look at the fields
// the collector stamps.
func Validate(e *Event, lim Limits) *Rejection {
	reject := func(r Reason, detail string) *Rejection { return &Rejection{ID: e.ID, Reason: r, Detail: detail} }
	switch {
	case e.ID == "":
		return reject(ReasonMissingID, "")
	case !isUUID(e.ID):
		return reject(ReasonInvalidID, "id must be a UUID")
	}
	spec, ok := SpecOf(e.Type)
	switch {
	case !ok:
		return reject(ReasonUnknownType, fmt.Sprintf("type %q", e.Type))
	case e.TS <= 0:
		return reject(ReasonMissingTS, "ts must be epoch milliseconds")
	case e.AnonymousID == "" && e.UserID == "":
		return reject(ReasonMissingUser, "anonymous_id or user_id is required")
	}
	if spec.Check != nil {
		if r := spec.Check(e); r != nil {
			r.ID = e.ID
			return r
		}
	}
	if len(e.Props) > lim.MaxProps {
		return reject(ReasonInvalidProps, fmt.Sprintf("%d props, limit %d", len(e.Props), lim.MaxProps))
	}
	for k, v := range e.Props {
		switch v.(type) {
		case string, float64, bool:
		default:
			return reject(ReasonInvalidProps, fmt.Sprintf("props.%s must be a string, number or bool", k))
		}
	}
	return nil
}

// isUUID accepts the canonical 8-4-4-4-12 hex form, any version.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// peekID recovers the id of an event whose other fields failed to decode, so
// the rejection can name it.
func peekID(raw json.RawMessage) string {
	var v struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	s, _ := v.ID.(string)
	return s
}
