package loader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/event"
)

// tally is a visit as the aggregate of its events, before the referrer is
// classified: the figures of its row, the first event's raw referrer and
// landing URL, and the order of the events that its first-event fields,
// entry page and exit page come from. More events fold into it exactly as
// ClickHouse would aggregate them all together.
type tally struct {
	v                       visit // but referrer, source, channel, duration and bounce: see visit
	rawReferrer, landingURL string
	first, entry, exit      order // entry and exit are zero while the visit has no pageview
}

// order sorts a visit's events: by client time, then id, so the same
// events always give the same row.
type order struct {
	ts uint64
	id string
}

func (a order) less(b order) bool { return a.ts < b.ts || a.ts == b.ts && a.id < b.id }

func (a order) zero() bool { return a.id == "" }

// tallies aggregates what the events table holds, since since, of the
// site's sessions listed in the external table batch_sessions. The
// events were stored as eventColumns.add wrote them: the client time as
// ts, eventTime in whole seconds as time; fold reads a fresh event alike.
func tallies(ctx context.Context, conn driver.Conn, site string, since time.Time) (map[visitKey]tally, error) {
	rows, err := conn.Query(ctx, `SELECT
		session_id,
		argMin(if(anonymous_id != '', anonymous_id, user_id), (ts, id)),
		min(time), max(time),
		toUInt32(uniqExactIf(id, type = 'pageview')),
		toUInt32(uniqExact(id)),
		toUInt32(uniqExactIf(id, type IN ('click', 'search', 'form_submit', 'custom'))),
		argMin(page_referrer, (ts, id)), argMin(page_url, (ts, id)),
		argMin(utm_source, (ts, id)), argMin(utm_medium, (ts, id)), argMin(utm_campaign, (ts, id)),
		argMin(utm_term, (ts, id)), argMin(utm_content, (ts, id)),
		argMin(browser, (ts, id)), argMin(os, (ts, id)), argMin(device, (ts, id)),
		min(ts), argMin(id, (ts, id)),
		argMinIf(page_path, (ts, id), type = 'pageview'),
		argMinIf(ts, (ts, id), type = 'pageview'), argMinIf(id, (ts, id), type = 'pageview'),
		argMaxIf(page_path, (ts, id), type = 'pageview'),
		argMaxIf(ts, (ts, id), type = 'pageview'), argMaxIf(id, (ts, id), type = 'pageview')
		FROM events
		WHERE site_id = ? AND time >= ? AND session_id IN batch_sessions AND bot = 0
		GROUP BY session_id`,
		site, since.Truncate(time.Second))
	if err != nil {
		return nil, fmt.Errorf("read the visits' events: %w", err)
	}
	out := map[visitKey]tally{}
	for rows.Next() {
		t := tally{v: visit{site: site}}
		v := &t.v
		if err := rows.Scan(&v.session, &v.visitor, &v.start, &v.finish, &v.pageviews, &v.events, &v.interactions,
			&t.rawReferrer, &t.landingURL, &v.utmSource, &v.utmMedium, &v.utmCampaign, &v.utmTerm, &v.utmContent,
			&v.browser, &v.os, &v.device, &t.first.ts, &t.first.id,
			&v.entryPage, &t.entry.ts, &t.entry.id, &v.exitPage, &t.exit.ts, &t.exit.id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the visits' events: %w", err)
		}
		v.start, v.finish = v.start.UTC(), v.finish.UTC()
		out[visitKey{site, v.session}] = t
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read the visits' events: %w", err)
	}
	return out, nil
}

// fold adds events[i], i in fresh, to the tallies of their visits. The
// tallies must hold none of them: fresh are the events the table did not
// hold when the tallies were read, each id once.
func fold(tallies map[visitKey]tally, events []*event.Event, fresh []int) {
	for _, i := range fresh {
		e := events[i]
		if !inVisit(e) {
			continue
		}
		k := visitKey{e.SiteID, e.SessionID}
		t, ok := tallies[k]
		t.add(e, !ok)
		tallies[k] = t
	}
}

// add folds e into t, the first event of its visit if first.
func (t *tally) add(e *event.Event, first bool) {
	v := &t.v
	at := eventTime(e).Truncate(time.Second)
	o := order{uint64(max(e.TS, 0)), e.ID}
	var page event.Page
	if e.Page != nil {
		page = *e.Page
	}
	if first {
		v.site, v.session, v.start, v.finish = e.SiteID, e.SessionID, at, at
	}
	v.start, v.finish = minTime(v.start, at), maxTime(v.finish, at)
	v.events++
	if first || o.less(t.first) {
		t.first = o
		v.visitor = e.AnonymousID
		if v.visitor == "" {
			v.visitor = e.UserID
		}
		t.rawReferrer, t.landingURL = page.Referrer, page.URL
		var utm event.UTM
		if e.Context != nil && e.Context.UTM != nil {
			utm = *e.Context.UTM
		}
		v.utmSource, v.utmMedium, v.utmCampaign, v.utmTerm, v.utmContent = utm.Source, utm.Medium, utm.Campaign, utm.Term, utm.Content
		v.browser, v.os, v.device = e.Browser, e.OS, e.Device
	}
	switch e.Type {
	case event.Pageview:
		v.pageviews++
		if t.entry.zero() || o.less(t.entry) {
			t.entry, v.entryPage = o, page.Path
		}
		if t.exit.zero() || t.exit.less(o) {
			t.exit, v.exitPage = o, page.Path
		}
	case event.Click, event.Search, event.FormSubmit, event.Custom:
		v.interactions++
	}
}

// visit is the row of t: its source and channel come from the first
// event's referrer, landing URL and UTM tags.
func (t tally) visit() visit {
	v := t.v
	v.duration = uint32(v.finish.Sub(v.start) / time.Second)
	o := classify(t.rawReferrer, t.landingURL, v.utmSource, v.utmMedium)
	v.referrer, v.source, v.channel = o.referrer, o.source, o.channel
	v.bounce = 0
	if v.pageviews <= 1 && v.interactions == 0 {
		v.bounce = 1
	}
	return v
}
