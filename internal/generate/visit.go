package generate

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/footfall/footfall/internal/event"
)

// visit collects the events of one visit as the beacon would send them
// and the collector would stamp them.
type visit struct {
	r      *rand.Rand
	v      *visitor
	ag     *agent
	loc    *locale
	site   string
	aid    string
	sid    string
	uid    string
	ip     string
	screen string
	events []*event.Event
}

func newVisit(r *rand.Rand, site string, v *visitor, ag *agent) *visit {
	list := screens[ag.Device]
	vi := &visit{
		r: r, v: v, ag: ag, loc: &locales[v.locale], site: site,
		aid: uuidString(v.id), sid: uuidString(uuid(r)), ip: v.ip(),
		screen: list[int(v.screen)%len(list)],
	}
	if v.customer != 0 {
		vi.uid = fmt.Sprintf("cust-%d", v.customer)
	}
	return vi
}

// view is one page view: the page fields and context its events share.
// Events of one view point at the same Page and Context, which nothing
// changes once made.
type view struct {
	pg      page
	page    *event.Page
	context *event.Context
}

func (vi *visit) view(pg page, url, referrer string, utm *event.UTM) *view {
	return &view{
		pg:      pg,
		page:    &event.Page{URL: url, Path: pg.path, Title: pg.title, Referrer: referrer},
		context: &event.Context{Locale: vi.loc.lang, TZ: vi.loc.tz, Screen: vi.screen, UTM: utm},
	}
}

// emit adds an event of type t at ms on w.
func (vi *visit) emit(ms int64, t event.Type, w *view) *event.Event {
	e := &event.Event{
		ID:          uuidString(uuid(vi.r)),
		Type:        t,
		TS:          ms,
		AnonymousID: vi.aid,
		UserID:      vi.uid,
		SessionID:   vi.sid,
		Page:        w.page,
		Context:     w.context,
		// The beacon sends within a second or on leaving; the network
		// adds the rest.
		ReceivedAt: ms + 150 + vi.r.Int64N(2500),
		SiteID:     vi.site,
		IP:         vi.ip,
	}
	vi.ag.Stamp(e)
	vi.events = append(vi.events, e)
	return e
}

func (vi *visit) click(ms int64, w *view, selector, text, href, tag string) *event.Event {
	e := vi.emit(ms, event.Click, w)
	e.Click = &event.ClickDetail{Selector: selector, Text: text, Href: href, Tag: tag}
	return e
}

func (vi *visit) custom(ms int64, w *view, name string, props map[string]any) {
	e := vi.emit(ms, event.Custom, w)
	e.Name, e.Props = name, props
}

func (vi *visit) form(ms int64, w *view, id, action string) {
	e := vi.emit(ms, event.FormSubmit, w)
	e.Form = &event.FormDetail{FormID: id, Action: action}
}

func (vi *visit) search(ms int64, w *view, keyword string, found int) {
	e := vi.emit(ms, event.Search, w)
	e.Search = &event.SearchDetail{Keyword: keyword, Results: &found}
	event.Derive(e)
}

// scrolls sends the 25 % milestones a reader of w reaches in dwell ms:
// most read the first quarter, fewer each further one.
func (vi *visit) scrolls(from, dwell int64, w *view, reach float64) {
	for q := 1; q <= 4 && vi.r.Float64() < reach; q++ {
		e := vi.emit(from+dwell*int64(q)/5, event.Scroll, w)
		e.Scroll = &event.ScrollDetail{DepthPct: 25 * q}
		reach = 0.55
	}
}

// done returns the visit's events in time order, less those at or after
// end (the span's end cuts a visit short), and when its session expires.
func (vi *visit) done(end int64) (events []*event.Event, free int64) {
	slices.SortStableFunc(vi.events, func(a, b *event.Event) int { return cmp.Compare(a.TS, b.TS) })
	n := len(vi.events)
	for n > 0 && vi.events[n-1].TS >= end {
		n--
	}
	last := vi.events[len(vi.events)-1].TS
	return vi.events[:n], last + sessionGap.Milliseconds()
}
