package dashboard_test

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/footfall/footfall/internal/event"
)

// model computes from the data set what the Stats API must answer, by the
// definitions in docs/dashboard.md, without ClickHouse.
type model struct {
	visits []*visit
	events []*ev
}

// cond is a filters parameter as the model applies it: a condition on
// each event, one on each visit; nil is none.
type cond struct {
	event func(*ev) bool
	visit func(*visit) bool
}

// lookback is how long after a period a visit's events are looked at for
// an event filter on visits, as the API does.
const lookback = 24 * time.Hour

// eventsIn are the events of humans from <= time < to that match c (a
// visit condition through the event's visit).
func (m *model) eventsIn(from, to time.Time, c cond) []*ev {
	var out []*ev
	for _, e := range m.events {
		if e.v.bot() || e.time.Before(from) || !e.time.Before(to) {
			continue
		}
		if (c.event == nil || c.event(e)) && (c.visit == nil || c.visit(e.v)) {
			out = append(out, e)
		}
	}
	return out
}

// visitsIn are the visits of humans that started from <= start < to and
// match c (an event condition through any event of the visit).
func (m *model) visitsIn(from, to time.Time, c cond) []*visit {
	var out []*visit
	for _, v := range m.visits {
		if v.bot() || v.first().Before(from) || !v.first().Before(to) || (c.visit != nil && !c.visit(v)) {
			continue
		}
		if c.event != nil {
			found := false
			for _, e := range v.events {
				found = found || (!e.time.Before(from) && e.time.Before(to.Add(lookback)) && c.event(e))
			}
			if !found {
				continue
			}
		}
		out = append(out, v)
	}
	return out
}

// A visit's figures, as the loader defines them.

func (v *visit) first() time.Time { return v.events[0].time }
func (v *visit) last() time.Time  { return v.events[len(v.events)-1].time }

func (v *visit) pageviews() (n int) {
	for _, e := range v.events {
		if e.typ == event.Pageview {
			n++
		}
	}
	return n
}

func (v *visit) bounce() bool {
	for _, e := range v.events {
		switch e.typ {
		case event.Click, event.Search, event.FormSubmit, event.Custom:
			return false
		}
	}
	return v.pageviews() <= 1
}

func (v *visit) pages() (entry, exit string) {
	for _, e := range v.events {
		if e.typ == event.Pageview {
			if entry == "" {
				entry = e.path
			}
			exit = e.path
		}
	}
	return entry, exit
}

// value is the visit's value of a visit property (its key).
func (v *visit) value(key string) string {
	entry, exit := v.pages()
	utm := v.origin.utm
	if utm == nil {
		utm = &event.UTM{}
	}
	return map[string]string{
		"entry_page": entry, "exit_page": exit, "source": v.origin.source, "referrer": v.origin.refShown,
		"channel": v.origin.channel, "utm_source": utm.Source, "utm_medium": utm.Medium, "utm_campaign": utm.Campaign,
		"utm_term": utm.Term, "utm_content": utm.Content, "browser": v.agent.browser, "os": v.agent.os, "device": v.agent.device,
	}[key]
}

// sums are what every metric is computed from.
type sums struct {
	visitors, pageviews, events, zero         int
	visits, bounces, duration, visitPageviews int
	visitVisitors                             int
	visitorSet, visitVisitorSet               map[string]bool
}

func (s *sums) addEvent(e *ev) {
	if s.visitorSet == nil {
		s.visitorSet = map[string]bool{}
	}
	s.visitorSet[e.v.visitor] = true
	s.visitors = len(s.visitorSet)
	s.events++
	if e.typ == event.Pageview {
		s.pageviews++
	}
	if e.typ == event.Search && e.results != nil && *e.results == 0 {
		s.zero++
	}
}

func (s *sums) addVisit(v *visit) {
	if s.visitVisitorSet == nil {
		s.visitVisitorSet = map[string]bool{}
	}
	s.visitVisitorSet[v.visitor] = true
	s.visitVisitors = len(s.visitVisitorSet)
	s.visits++
	if v.bounce() {
		s.bounces++
	}
	s.duration += int(v.last().Sub(v.first()).Seconds())
	s.visitPageviews += v.pageviews()
}

func (m *model) sums(from, to time.Time, c cond) sums {
	var s sums
	for _, e := range m.eventsIn(from, to, c) {
		s.addEvent(e)
	}
	for _, v := range m.visitsIn(from, to, c) {
		s.addVisit(v)
	}
	return s
}

// metric is the value of metric name as JSON decodes it. byVisit: the
// row is a visit property's, whose visitors and pageviews are its visits'.
func (s sums) metric(name string, byVisit bool) any {
	div := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	switch name {
	case "visitors":
		if byVisit {
			return float64(s.visitVisitors)
		}
		return float64(s.visitors)
	case "pageviews":
		if byVisit {
			return float64(s.visitPageviews)
		}
		return float64(s.pageviews)
	case "events":
		return float64(s.events)
	case "zero_results":
		return float64(s.zero)
	case "visits":
		return float64(s.visits)
	case "bounce_rate":
		return math.Round(100 * div(s.bounces, s.visits))
	case "visit_duration":
		return math.Round(div(s.duration, s.visits))
	case "views_per_visit":
		return math.Round(div(s.visitPageviews, s.visits)*100) / 100
	}
	panic("no metric " + name)
}

// rank is what a breakdown orders its rows by.
func (s sums) rank(name string, byVisit bool) float64 {
	switch name {
	case "bounce_rate":
		if s.visits == 0 {
			return 0
		}
		return float64(s.bounces) / float64(s.visits)
	case "visit_duration":
		if s.visits == 0 {
			return 0
		}
		return float64(s.duration) / float64(s.visits)
	}
	return s.metric(name, byVisit).(float64)
}

// eventValue is an event's value of an event property, "" where it has
// none (such events are not in the breakdown).
func eventValue(prop string, e *ev) string {
	switch prop {
	case "event:page":
		if e.typ == event.Pageview {
			return e.path
		}
		return ""
	case "event:name":
		return e.eventName()
	case "event:search":
		return e.keywordKey()
	case "event:click":
		return e.clickTarget()
	}
	return e.prop(strings.TrimPrefix(prop, "event:props:"))
}

func isVisitMetric(m string) bool {
	return m == "visits" || m == "bounce_rate" || m == "visit_duration" || m == "views_per_visit"
}

// breakdown is the expected results of a breakdown.
func (m *model) breakdown(prop string, metrics []string, from, to time.Time, c cond, limit, page int) []map[string]any {
	key := prop[strings.LastIndex(prop, ":")+1:]
	byVisit := strings.HasPrefix(prop, "visit:")
	groups := map[string]*sums{}
	group := func(v string) *sums {
		if groups[v] == nil {
			groups[v] = &sums{}
		}
		return groups[v]
	}
	if byVisit {
		for _, v := range m.visitsIn(from, to, c) {
			val := v.value(key)
			if val == "" && key != "source" && key != "referrer" {
				continue
			}
			if val == "" {
				val = "Direct / None"
			}
			group(val).addVisit(v)
		}
	} else {
		for _, e := range m.eventsIn(from, to, c) {
			if val := eventValue(prop, e); val != "" {
				group(val).addEvent(e)
			}
		}
		if prop == "event:page" {
			// A page's visit figures are those of the visits entering on it.
			for _, v := range m.visitsIn(from, to, c) {
				if entry, _ := v.pages(); groups[entry] != nil {
					groups[entry].addVisit(v)
				}
			}
		}
	}
	rank := metrics[0]
	if !byVisit {
		rank = "visitors"
		for _, mm := range metrics {
			if !isVisitMetric(mm) {
				rank = mm
				break
			}
		}
	}
	// Visitors rank by their additive companion: a page's pageviews, a
	// visit property's visits, another event property's events.
	if rank == "visitors" {
		switch {
		case byVisit:
			rank = "visits"
		case prop == "event:page":
			rank = "pageviews"
		default:
			rank = "events"
		}
	}
	values := make([]string, 0, len(groups))
	for v := range groups {
		values = append(values, v)
	}
	sort.Slice(values, func(i, j int) bool {
		a, b := groups[values[i]].rank(rank, byVisit), groups[values[j]].rank(rank, byVisit)
		if a != b {
			return a > b
		}
		return values[i] < values[j]
	})
	out := []map[string]any{}
	for i := (page - 1) * limit; i < len(values) && i < page*limit; i++ {
		row := map[string]any{key: values[i]}
		for _, mm := range metrics {
			row[mm] = groups[values[i]].metric(mm, byVisit)
		}
		out = append(out, row)
	}
	return out
}

// change is how a metric moved, as Plausible reports it.
func change(metric string, old, now float64) any {
	switch {
	case metric == "bounce_rate" && old == 0:
		return nil
	case metric == "bounce_rate":
		return now - old
	case old == 0 && now > 0:
		return 100.0
	case old == 0:
		return 0.0
	}
	return math.Round((now - old) / old * 100)
}
