package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
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
	ReasonInvalidUTF8    Reason = "invalid_utf8"
	ReasonDuplicateKey   Reason = "duplicate_key"
	// The collector's rate limits refuse whole requests (429).
	ReasonRateLimitedIP   Reason = "rate_limited_ip"
	ReasonRateLimitedSite Reason = "rate_limited_site"
	// Who may send: credentials, and the origins a site's pages are on.
	ReasonBadCredentials   Reason = "invalid_credentials"
	ReasonSiteMismatch     Reason = "site_mismatch"
	ReasonOriginNotAllowed Reason = "origin_not_allowed"
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
	// SentAt is the sender's clock as it sent the batch, epoch ms; the
	// collector corrects each event's ts by the difference to its own.
	SentAt int64 `json:"sent_at,omitempty"`

	// decoded holds the events decodeBatchFast read on its way through
	// the batch (nil where it could not), for Event not to read them
	// again.
	decoded []*Event
}

// Errors of DecodeBatch; ReasonOf names them for the client.
var (
	ErrMalformed    = errors.New("malformed batch")
	ErrDuplicateKey = errors.New("duplicate key in batch")
)

// DecodeBatch parses the outer envelope, so that one bad event cannot
// cost the others: each event is decoded on its own by DecodeEvent, or
// Batch.Event, which takes what the beacon's plain events decoded to on
// the way through the batch (fastdecode.go). The events may be slices of
// body.
func DecodeBatch(body []byte) (*Batch, error) {
	if b, ok := decodeBatchFast(body); ok {
		return b, nil
	}
	return decodeBatchJSON(body)
}

// Event is DecodeEvent(b.Events[i], lim), without decoding again what
// DecodeBatch decoded already.
func (b *Batch) Event(i int, lim Limits) (*Event, *Rejection) {
	if i < len(b.decoded) && b.decoded[i] != nil && len(b.Events[i]) <= lim.MaxEventBytes {
		return accept(b.decoded[i], lim)
	}
	return DecodeEvent(b.Events[i], lim)
}

// decodeBatchJSON is DecodeBatch for any body: encoding/json, then the
// duplicate scan of the envelope's names. decodeBatchFast takes the
// beacon's.
func decodeBatchJSON(body []byte) (*Batch, error) {
	var b Batch
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	// A name twice in the envelope is refused, as in an event (see
	// duplicates.go); the events are checked one by one.
	if name, dup := duplicateKey(body, true); dup {
		return nil, fmt.Errorf("%w: %q appears twice", ErrDuplicateKey, name)
	}
	return &b, nil
}

// ReasonOf is the reason to answer for an error of DecodeBatch.
func ReasonOf(err error) Reason {
	if errors.Is(err, ErrDuplicateKey) {
		return ReasonDuplicateKey
	}
	return ReasonMalformedJSON
}

// DecodeEvent parses and validates one event of a batch.
//
// Text that is not UTF-8 is refused (RFC 8259 §8.1: JSON between systems
// is UTF-8) rather than silently changed to U+FFFD, so that a sender with
// an encoding bug learns of it. A \u escape of a lone surrogate is valid
// JSON, and what JavaScript's JSON.stringify writes for a string cut inside
// an emoji: it is kept, as U+FFFD. A name twice in one object is refused
// (see duplicates.go).
func DecodeEvent(raw json.RawMessage, lim Limits) (*Event, *Rejection) {
	if len(raw) > lim.MaxEventBytes {
		return nil, &Rejection{Reason: ReasonEventTooLarge, Detail: fmt.Sprintf("%d bytes, limit %d", len(raw), lim.MaxEventBytes)}
	}
	if !utf8.Valid(raw) {
		return nil, &Rejection{ID: peekID(raw), Reason: ReasonInvalidUTF8, Detail: fmt.Sprintf("byte %d is not UTF-8; JSON must be sent as UTF-8", invalidUTF8At(raw))}
	}
	e := new(Event)
	if !decodeFast(raw, e) {
		*e = Event{}
		if r := decodeJSON(raw, e); r != nil {
			return nil, r
		}
	}
	return accept(e, lim)
}

// accept validates a decoded event.
func accept(e *Event, lim Limits) (*Event, *Rejection) {
	// The flat search fields are derived by the server (Derive); what a
	// client sends in them is not the event's.
	e.PageURL, e.SearchKeyword, e.Date = "", "", 0
	if r := Validate(e, lim); r != nil {
		return nil, r
	}
	return e, nil
}

// decodeJSON is DecodeEvent's decoding of any event: encoding/json, then
// the duplicate scan. decodeFast takes the plain ones.
func decodeJSON(raw json.RawMessage, e *Event) *Rejection {
	if err := json.Unmarshal(raw, e); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &Rejection{ID: peekID(raw), Reason: ReasonInvalidField, Detail: fmt.Sprintf("%s: got %s, want %s", te.Field, te.Value, te.Type)}
		}
		return &Rejection{Reason: ReasonMalformedJSON, Detail: err.Error()}
	}
	if name, dup := duplicateKey(raw, false); dup {
		r := &Rejection{ID: e.ID, Reason: ReasonDuplicateKey, Detail: fmt.Sprintf("%q appears twice (names compare ignoring case, except within props)", name)}
		if strings.EqualFold(name, "id") {
			r.ID = "" // which of the two is the question
		}
		return r
	}
	return nil
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
		case string, json.Number, float64, bool:
		default:
			return reject(ReasonInvalidProps, fmt.Sprintf("props.%s must be a string, number or bool", k))
		}
	}
	return nil
}

// invalidUTF8At is the offset of raw's first byte that is not UTF-8.
func invalidUTF8At(raw []byte) int {
	for i := 0; i < len(raw); {
		r, n := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(raw)
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
