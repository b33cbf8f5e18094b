package event

import (
	"strings"
)

// Spec is what one event type means: the topic it travels on, what it must
// carry beyond the envelope, and what the server derives from it. Adding a
// type is adding a Spec: validation, routing, topic creation and the
// loader's topic list all follow from the list below.
type Spec struct {
	Type Type
	// Check reports what the type requires beyond the envelope, or nil.
	Check func(e *Event) *Rejection
	// Derive fills the server-side fields the type carries, once the
	// collector has stamped the event.
	Derive func(e *Event)
}

// specs is every event type of the envelope, version 1, in topic-creation
// order.
var specs = []Spec{
	{Type: Pageview},
	{Type: Click},
	{Type: Search, Check: checkSearch, Derive: deriveSearch},
	{Type: FormSubmit},
	{Type: Scroll},
	{Type: Custom, Check: checkCustom},
	{Type: Identify, Check: checkIdentify},
}

// Specs returns every type's Spec.
func Specs() []Spec { return append([]Spec(nil), specs...) }

// Types lists every valid type, in topic-creation order.
func Types() []Type {
	out := make([]Type, len(specs))
	for i, s := range specs {
		out[i] = s.Type
	}
	return out
}

// SpecOf returns t's Spec; ok is false for a type the envelope lacks.
func SpecOf(t Type) (s Spec, ok bool) {
	for _, s := range specs {
		if s.Type == t {
			return s, true
		}
	}
	return Spec{}, false
}

// Derive fills the server-side fields of e's type. Unknown types are left
// alone: they never pass validation.
func Derive(e *Event) {
	if s, ok := SpecOf(e.Type); ok && s.Derive != nil {
		s.Derive(e)
	}
}

func checkSearch(e *Event) *Rejection {
	if e.Search == nil || strings.TrimSpace(e.Search.Keyword) == "" {
		return &Rejection{Reason: ReasonMissingKeyword, Detail: "search.keyword is required"}
	}
	return nil
}

// deriveSearch keeps the four flat fields of the original search message
// (user_id, page_url, search_keyword, date) so simple consumers can read a
// search without knowing the envelope.
func deriveSearch(e *Event) {
	e.SearchKeyword, e.Date = e.Search.Keyword, e.TS
	if e.Page != nil {
		e.PageURL = e.Page.URL
	}
}

func checkCustom(e *Event) *Rejection {
	if e.Name == "" {
		return &Rejection{Reason: ReasonMissingName, Detail: "custom events need a name"}
	}
	return nil
}

func checkIdentify(e *Event) *Rejection {
	if e.UserID == "" {
		return &Rejection{Reason: ReasonMissingUser, Detail: "identify needs user_id"}
	}
	return nil
}

// Topic is the Kafka topic for events of type t under prefix, e.g.
// "footfall" + Search = "footfall.search".
func Topic(prefix string, t Type) string { return topic(prefix, string(t)) }

// InvalidTopic is where the collector keeps what it could not validate.
func InvalidTopic(prefix string) string { return topic(prefix, "invalid") }

// PromotionUpdatesTopic carries the enricher's changes to user promotions.
func PromotionUpdatesTopic(prefix string) string { return topic(prefix, "promotion_updates") }

// LogsTopic carries log records (OTLP or JSON lines from /v1/logs), one
// JSON record each in the format of docs/logs.md.
func LogsTopic(prefix string) string { return topic(prefix, "logs") }

// ReviewsTopic carries product reviews from POST /v1/reviews to the
// moderator, one record each (key site:author, so one author's reviews stay in order).
func ReviewsTopic(prefix string) string { return topic(prefix, "reviews") }

// SuppressionsTopic carries forget requests: the ids whose later events
// the collector, the loader and the enricher drop (key site:id).
func SuppressionsTopic(prefix string) string { return topic(prefix, "suppressions") }

// DeadTopic receives the records a consumer could not process, with the
// reason in their headers.
func DeadTopic(prefix string) string { return topic(prefix, "dead") }

func topic(prefix, name string) string { return strings.TrimSuffix(prefix, ".") + "." + name }

// EventTopics lists the topic of every event type under prefix.
func EventTopics(prefix string) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = Topic(prefix, s.Type)
	}
	return out
}

// AllTopics lists every topic Footfall uses under prefix.
func AllTopics(prefix string) []string {
	return append(EventTopics(prefix), InvalidTopic(prefix), PromotionUpdatesTopic(prefix), DeadTopic(prefix), LogsTopic(prefix),
		ReviewsTopic(prefix), SuppressionsTopic(prefix))
}
