// Package segment reads Segment's HTTP Tracking API, so that a shop already
// sending events with Segment's libraries can point them at Footfall
// unchanged, and maps each call into Footfall's envelope. docs/api.md,
// "Segment's API", gives the mapping field by field; this package is that
// table in code and knows nothing of HTTP, keys or Kafka.
package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/footfall/footfall/internal/event"
)

// Segment's own limits: a call's JSON, and a whole request.
const (
	MaxMessageBytes = 32 << 10
	MaxRequestBytes = 500 << 10
	// MaxMessageID is the longest messageId Footfall takes.
	MaxMessageID = 100
)

// Kind is a call of the API: the path of its endpoint, or the type of a
// message in a batch.
type Kind string

// The calls of Segment's Tracking API.
const (
	Track    Kind = "track"
	Page     Kind = "page"
	Screen   Kind = "screen"
	Identify Kind = "identify"
	Group    Kind = "group"
	Alias    Kind = "alias"
)

// Kinds lists every call, in the order of Segment's documentation.
func Kinds() []Kind { return []Kind{Identify, Track, Page, Screen, Group, Alias} }

// idSpace is the UUID namespace of the ids Footfall makes of messageIds.
var idSpace = uuid.MustParse("eb08ba68-5b07-4182-b15d-0e3d659e8d03")

// ErrMalformed is returned when a body is not a call or a batch.
var ErrMalformed = errors.New("malformed segment request")

// Request is what a body holds: its messages, undecoded so that one bad
// message cannot cost the others, and what a batch gives them all.
type Request struct {
	WriteKey string
	// SentAt is the batch's sentAt, for the messages without their own.
	SentAt json.RawMessage
	// Context is the batch's context, for the messages without their own.
	Context  json.RawMessage
	Messages []json.RawMessage
	// Kind is the endpoint's call for a single message; "" for a batch,
	// whose messages name theirs in type.
	Kind Kind
}

// DecodeBatch reads the body of POST /v1/batch in Segment's shape. ok is
// false when the body has no "batch" at all (Footfall's own shape, or
// none): the caller decides what that is.
func DecodeBatch(body []byte) (req *Request, ok bool, err error) {
	var b struct {
		Batch    []json.RawMessage `json:"batch"`
		WriteKey string            `json:"writeKey"`
		SentAt   json.RawMessage   `json:"sentAt"`
		Context  json.RawMessage   `json:"context"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if b.Batch == nil {
		return nil, false, nil
	}
	return &Request{WriteKey: b.WriteKey, SentAt: b.SentAt, Context: b.Context, Messages: b.Batch}, true, nil
}

// DecodeCall reads the body of POST /v1/<kind>: one message.
func DecodeCall(kind Kind, body []byte) (*Request, error) {
	var m struct {
		WriteKey string `json:"writeKey"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &Request{WriteKey: m.WriteKey, Kind: kind, Messages: []json.RawMessage{body}}, nil
}

// Input is what the collector knows of a request beyond its body.
type Input struct {
	Site       string
	ReceivedAt time.Time
	Limits     event.Limits
}

// Mapped is one message as an envelope, with what the collector judges
// and stamps itself.
type Mapped struct {
	// Event is the message in Footfall's envelope. Its ts is the sender's
	// clock (originalTimestamp, else timestamp; the time received when it
	// gave neither) and its ip is context.ip: what the sender says, which
	// the collector corrects or overrules as it does for /v1/batch.
	Event *event.Event
	// SentAt is when the sender says it sent the message (its sentAt, else
	// its batch's), epoch milliseconds; 0 when unknown or when the message
	// gave no time of its own.
	SentAt int64
	// UserAgent is context.userAgent: the visitor's browser, not the
	// sending library's; "" when the sender gave none.
	UserAgent string
}

// message is one call as Segment's libraries send it. Unknown fields
// (integrations, _metadata, context.library, …) are ignored.
type message struct {
	Type              Kind            `json:"type"`
	MessageID         flexString      `json:"messageId"`
	UserID            flexString      `json:"userId"`
	AnonymousID       flexString      `json:"anonymousId"`
	PreviousID        flexString      `json:"previousId"`
	GroupID           flexString      `json:"groupId"`
	Event             string          `json:"event"`
	Name              string          `json:"name"`
	Category          string          `json:"category"`
	Properties        map[string]any  `json:"properties"`
	Traits            map[string]any  `json:"traits"`
	Context           json.RawMessage `json:"context"`
	Timestamp         json.RawMessage `json:"timestamp"`
	OriginalTimestamp json.RawMessage `json:"originalTimestamp"`
	SentAt            json.RawMessage `json:"sentAt"`
}

type msgContext struct {
	IP        string `json:"ip"`
	UserAgent string `json:"userAgent"`
	Locale    string `json:"locale"`
	Timezone  string `json:"timezone"`
	Page      struct {
		URL      string `json:"url"`
		Path     string `json:"path"`
		Title    string `json:"title"`
		Referrer string `json:"referrer"`
	} `json:"page"`
	Campaign campaign `json:"campaign"`
	Screen   struct {
		Width  int `json:"width"`
		Height int `json:"height"`
	} `json:"screen"`
}

type campaign struct {
	Name    string `json:"name"`
	Source  string `json:"source"`
	Medium  string `json:"medium"`
	Term    string `json:"term"`
	Content string `json:"content"`
}

// searchEvents are the track names of a site search, lower-cased: Segment's
// e-commerce spec calls it "Products Searched", with the query in
// properties.query.
var searchEvents = map[string]bool{"products searched": true, "product searched": true}

// Map turns message i of req into an envelope, or says why it cannot.
// The envelope still lacks what the collector stamps and judges: site,
// received_at, the user agent's fields, the trust of its user id, ip and
// time.
func Map(req *Request, i int, in Input) (*Mapped, *event.Rejection) {
	raw := req.Messages[i]
	reject := func(id string, r event.Reason, detail string) (*Mapped, *event.Rejection) {
		return nil, &event.Rejection{Index: i, ID: id, Reason: r, Detail: detail}
	}
	if len(raw) > MaxMessageBytes {
		return reject("", event.ReasonEventTooLarge, fmt.Sprintf("%d bytes, limit %d", len(raw), MaxMessageBytes))
	}
	var m message
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return reject("", event.ReasonInvalidField, fmt.Sprintf("%s: got %s, want %s", te.Field, te.Value, te.Type))
		}
		return reject("", event.ReasonMalformedJSON, err.Error())
	}
	kind := req.Kind
	if kind == "" {
		kind = m.Type
	}
	id, rej := eventID(in.Site, string(m.MessageID))
	if rej != nil {
		rej.Index = i
		return nil, rej
	}
	var ctx msgContext
	if c := m.Context; len(c) > 0 && string(c) != "null" || len(req.Context) > 0 {
		if len(c) == 0 || string(c) == "null" {
			c = req.Context
		}
		if err := json.Unmarshal(c, &ctx); err != nil {
			return reject(id, event.ReasonInvalidField, "context: "+err.Error())
		}
	}
	client, err := clientTime(m)
	if err != nil {
		return reject(id, event.ReasonInvalidField, err.Error())
	}
	sentAt, err := parseTime("sentAt", m.SentAt)
	if err != nil {
		return reject(id, event.ReasonInvalidField, err.Error())
	}
	if sentAt.IsZero() {
		if sentAt, err = parseTime("batch sentAt", req.SentAt); err != nil {
			return reject(id, event.ReasonInvalidField, err.Error())
		}
	}

	e := &event.Event{ID: id, AnonymousID: string(m.AnonymousID), UserID: string(m.UserID), IP: ctx.IP}
	out := &Mapped{Event: e, UserAgent: ctx.UserAgent}
	if client.IsZero() {
		e.TS = in.ReceivedAt.UnixMilli()
	} else {
		e.TS = client.UnixMilli()
		if !sentAt.IsZero() {
			out.SentAt = sentAt.UnixMilli()
		}
	}
	props := map[string]any{}
	switch kind {
	case Track:
		e.Type, e.Name = event.Custom, m.Event
		flatten(props, "", m.Properties)
		if q, ok := props["query"].(string); ok && searchEvents[strings.ToLower(strings.TrimSpace(m.Event))] && strings.TrimSpace(q) != "" {
			e.Type, e.Name = event.Search, ""
			e.Search = &event.SearchDetail{Keyword: q}
			delete(props, "query")
		}
	case Page:
		e.Type = event.Pageview
		flatten(props, "", m.Properties)
		e.Page = &event.Page{
			URL:      take(props, "url", ctx.Page.URL),
			Path:     take(props, "path", ctx.Page.Path),
			Title:    take(props, "title", ctx.Page.Title),
			Referrer: take(props, "referrer", ctx.Page.Referrer),
		}
		delete(props, "search")
		if e.Page.Title == "" {
			e.Page.Title = m.Name
		}
		put(props, "category", m.Category)
	case Screen:
		e.Type, e.Name = event.Custom, "screen_view"
		flatten(props, "", m.Properties)
		put(props, "screen_name", m.Name)
		put(props, "screen_category", m.Category)
	case Identify:
		e.Type = event.Identify
		flatten(props, "", m.Traits)
	case Group:
		e.Type, e.Name = event.Custom, "group"
		flatten(props, "", m.Traits)
		put(props, "group_id", string(m.GroupID))
	case Alias:
		// An alias says previousId and userId are one person: for
		// Footfall, an identify of the device (or account) previousId.
		e.Type, e.AnonymousID = event.Identify, string(m.PreviousID)
	case "":
		return reject(id, event.ReasonUnknownType, "type is required in a batch")
	default:
		return reject(id, event.ReasonUnknownType, fmt.Sprintf("type %q", kind))
	}
	if len(props) > 0 {
		e.Props = props
	}
	if e.Page == nil && ctx.Page.URL != "" {
		e.Page = &event.Page{URL: ctx.Page.URL, Path: ctx.Page.Path, Title: ctx.Page.Title, Referrer: ctx.Page.Referrer}
	}
	c := event.Context{Locale: ctx.Locale, TZ: ctx.Timezone}
	if ctx.Screen.Width > 0 && ctx.Screen.Height > 0 {
		c.Screen = fmt.Sprintf("%dx%d", ctx.Screen.Width, ctx.Screen.Height)
	}
	if cp := ctx.Campaign; cp != (campaign{}) {
		c.UTM = &event.UTM{Source: cp.Source, Medium: cp.Medium, Campaign: cp.Name, Term: cp.Term, Content: cp.Content}
	}
	if c != (event.Context{}) {
		e.Context = &c
	}
	if r := event.Validate(e, in.Limits); r != nil {
		r.Index = i
		return nil, r
	}
	return out, nil
}

// eventID is the envelope id of a messageId: a UUID derived from the site
// and the messageId, so that a resent message keeps its id and the
// pipeline's deduplication holds end to end, and two sites' messageIds
// never meet. A message without one gets a random id (Segment gives it
// one too); it cannot be deduplicated.
func eventID(site, messageID string) (string, *event.Rejection) {
	switch {
	case messageID == "":
		return uuid.NewString(), nil
	case len(messageID) > MaxMessageID:
		return "", &event.Rejection{Reason: event.ReasonInvalidID, Detail: fmt.Sprintf("messageId has %d characters, limit %d", len(messageID), MaxMessageID)}
	}
	return uuid.NewSHA1(idSpace, []byte(site+"\x00"+messageID)).String(), nil
}

// clientTime is when the sender's clock says the call happened:
// originalTimestamp (what analytics.js sends) or else timestamp.
func clientTime(m message) (time.Time, error) {
	t, err := parseTime("originalTimestamp", m.OriginalTimestamp)
	if err != nil || !t.IsZero() {
		return t, err
	}
	return parseTime("timestamp", m.Timestamp)
}

// parseTime reads an ISO 8601 time; absent, null or "" is the zero time.
func parseTime(field string, raw json.RawMessage) (time.Time, error) {
	s := timeString(raw)
	if s == "" {
		if len(raw) > 0 && string(raw) != "null" && string(raw) != `""` {
			return time.Time{}, fmt.Errorf("%s: want an ISO 8601 time", field)
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: want an ISO 8601 time, got %q", field, s)
	}
	return t, nil
}

// timeString is raw's string, or "" when raw is not a JSON string.
func timeString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// flatten copies v into props with nested objects' keys joined by dots
// ({"a":{"b":1}} is a.b = 1), arrays as their JSON text, and nulls left
// out: the envelope's props are flat strings, numbers and booleans.
// Numbers stay json.Number, exact (see event.Props).
func flatten(props map[string]any, prefix string, v map[string]any) {
	for k, x := range v {
		key := prefix + k
		switch x := x.(type) {
		case nil:
		case map[string]any:
			flatten(props, key+".", x)
		case []any:
			b, _ := json.Marshal(x) // decoded JSON: cannot fail
			props[key] = string(b)
		default:
			props[key] = x
		}
	}
}

// take removes key from props and returns it when it is a non-empty
// string, else fallback.
func take(props map[string]any, key, fallback string) string {
	s, ok := props[key].(string)
	if !ok || s == "" {
		return fallback
	}
	delete(props, key)
	return s
}

func put(props map[string]any, key, value string) {
	if value != "" {
		props[key] = value
	}
}

// flexString is an id Segment's senders give as a string or a number.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*f = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeOf("")}
	}
	*f = flexString(n.String())
	return nil
}
