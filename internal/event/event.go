// Package event is Footfall's contract: the envelope every part reads and
// writes, its validation, and how an event is routed to Kafka.
package event

// Type names one kind of event; each type has its own Kafka topic.
type Type string

// The event types of the envelope, version 1.
const (
	Pageview   Type = "pageview"
	Click      Type = "click"
	Search     Type = "search"
	FormSubmit Type = "form_submit"
	Scroll     Type = "scroll"
	Custom     Type = "custom"
	Identify   Type = "identify"
)

// Event is the envelope as it travels through Kafka. The client fills the
// first block; the collector stamps the rest, so consumers never need the
// HTTP request that carried it.
type Event struct {
	ID          string        `json:"id"`
	Type        Type          `json:"type"`
	Name        string        `json:"name,omitempty"`
	TS          int64         `json:"ts"`
	AnonymousID string        `json:"anonymous_id,omitempty"`
	UserID      string        `json:"user_id,omitempty"`
	SessionID   string        `json:"session_id,omitempty"`
	Page        *Page         `json:"page,omitempty"`
	Search      *SearchDetail `json:"search,omitempty"`
	Click       *ClickDetail  `json:"click,omitempty"`
	Scroll      *ScrollDetail `json:"scroll,omitempty"`
	Form        *FormDetail   `json:"form,omitempty"`
	Props       Props         `json:"props,omitempty"`
	Context     *Context      `json:"context,omitempty"`

	// Stamped by the collector over whatever the client sent in these
	// fields (a server key's ip alone is kept, truncated). TS above is
	// then the event's time as the collector believes it: skew-corrected
	// by the batch's sent_at, and for a browser never set by the client's
	// clock alone (docs/api.md, "Time"); OriginalTS is the client's ts as
	// sent. UserVerified says the user id is vouched for (a server key
	// sent it, or an identify with a valid user_hash): only then is it
	// linked to the anonymous id or keyed by.
	OriginalTS   int64  `json:"original_ts,omitempty"`
	UserVerified bool   `json:"user_verified,omitempty"`
	ReceivedAt   int64  `json:"received_at,omitempty"`
	SiteID       string `json:"site_id,omitempty"`
	IP           string `json:"ip,omitempty"`
	UserAgent    string `json:"user_agent,omitempty"`
	Bot          bool   `json:"bot,omitempty"`
	Browser      string `json:"browser,omitempty"`
	OS           string `json:"os,omitempty"`
	Device       string `json:"device,omitempty"`

	// The flat fields of the original search message, kept on search events
	// so that simple consumers can read them without knowing the envelope.
	PageURL       string `json:"page_url,omitempty"`
	SearchKeyword string `json:"search_keyword,omitempty"`
	Date          int64  `json:"date,omitempty"`
}

// Page is where the event happened.
type Page struct {
	URL      string `json:"url,omitempty"`
	Path     string `json:"path,omitempty"`
	Title    string `json:"title,omitempty"`
	Referrer string `json:"referrer,omitempty"`
}

// SearchDetail is a site search.
type SearchDetail struct {
	Keyword string `json:"keyword"`
	Results *int   `json:"results,omitempty"`
}

// ClickDetail is a click on a link, button or marked element.
type ClickDetail struct {
	Selector string `json:"selector,omitempty"`
	Text     string `json:"text,omitempty"`
	Href     string `json:"href,omitempty"`
	Tag      string `json:"tag,omitempty"`
}

// ScrollDetail is a scroll-depth milestone.
type ScrollDetail struct {
	DepthPct int `json:"depth_pct"`
}

// FormDetail is a form submit; field values are never part of it.
type FormDetail struct {
	FormID string `json:"form_id,omitempty"`
	Action string `json:"action,omitempty"`
}

// Context is what the browser knows about the visit.
type Context struct {
	Locale string `json:"locale,omitempty"`
	TZ     string `json:"tz,omitempty"`
	Screen string `json:"screen,omitempty"`
	UTM    *UTM   `json:"utm,omitempty"`
}

// UTM holds the campaign parameters of the landing URL.
type UTM struct {
	Source   string `json:"source,omitempty"`
	Medium   string `json:"medium,omitempty"`
	Campaign string `json:"campaign,omitempty"`
	Term     string `json:"term,omitempty"`
	Content  string `json:"content,omitempty"`
}

// Key is the Kafka message key: site plus the device's stable id, so one
// visitor's events stay in order on one partition even across a login.
// Server-side events without an anonymous id fall back to the user id.
func (e *Event) Key() string {
	who := e.AnonymousID
	if who == "" {
		who = e.UserID
	}
	return e.SiteID + ":" + who
}

// UserKey is the identity promotions are stored under: the anonymous id when
// there is one, since that is what the shop's pages know before login, else
// the user id if it is vouched for; "" when neither, for then nobody can be
// trusted to be the one the event is about.
func (e *Event) UserKey() string {
	switch {
	case e.AnonymousID != "":
		return e.AnonymousID
	case e.UserVerified:
		return e.UserID
	}
	return ""
}
