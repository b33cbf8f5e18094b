package loader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/event"
)

// order sorts a visit's events: by client time, then id, so the same
// events always give the same row. A visit's row keeps the order of the
// events its first-event fields, entry page and exit page come from, so
// that more events fold into it exactly as ClickHouse would aggregate
// them all together.
type order struct {
	ts uint64
	id string
}

func (a order) less(b order) bool { return a.ts < b.ts || a.ts == b.ts && a.id < b.id }

func (a order) zero() bool { return a.id == "" }

// tallies aggregates what the events table holds, since since, of the
// site's sessions listed in the external table batch_sessions, into their
// rows. The events were stored as eventColumns.add wrote them: the client
// time as ts, eventTime in whole seconds as time; visit.add reads a fresh
// event alike.
func tallies(ctx context.Context, conn driver.Conn, site string, since time.Time) (map[visitKey]visit, error) {
	rows, err := conn.Query(ctx, `SELECT
		session_id,
		argMin(if(anonymous_id != '', anonymous_id, user_id), (ts, id)),
		min(time), max(time),
		toUInt32(uniqExactIf(id, type = 'pageview')),
		toUInt32(uniqExact(id)),
		-- has(), not IN: through a Distributed table 18.16 makes IN on a
		-- LowCardinality column a LowCardinality(UInt8) on the shards and
		-- refuses to merge it with the initiator's UInt8.
		toUInt32(uniqExactIf(id, has(['click', 'search', 'form_submit', 'custom'], type))),
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
	out := map[visitKey]visit{}
	for rows.Next() {
		v := visit{site: site}
		var rawReferrer, landingURL string
		if err := rows.Scan(&v.session, &v.visitor, &v.start, &v.finish, &v.pageviews, &v.events, &v.interactions,
			&rawReferrer, &landingURL, &v.utmSource, &v.utmMedium, &v.utmCampaign, &v.utmTerm, &v.utmContent,
			&v.browser, &v.os, &v.device, &v.first.ts, &v.first.id,
			&v.entryPage, &v.entry.ts, &v.entry.id, &v.exitPage, &v.exit.ts, &v.exit.id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the visits' events: %w", err)
		}
		v.start, v.finish = v.start.UTC(), v.finish.UTC()
		v.classify(rawReferrer, landingURL)
		v.settle()
		out[visitKey{site, v.session}] = v
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read the visits' events: %w", err)
	}
	return out, nil
}

// fold adds events[i], i in fresh, to the rows of their visits. The rows
// must count none of them: fresh are the events the table did not hold
// when the rows were read, each id once.
func fold(visits map[visitKey]visit, events []*event.Event, fresh []int) {
	for _, i := range fresh {
		e := events[i]
		if !inVisit(e) {
			continue
		}
		k := visitKey{e.SiteID, e.SessionID}
		v, ok := visits[k]
		v.add(e, !ok)
		visits[k] = v
	}
}

// add folds e into v, the first event of its visit if first.
func (v *visit) add(e *event.Event, first bool) {
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
	if first || o.less(v.first) {
		v.first = o
		v.visitor = e.AnonymousID
		if v.visitor == "" {
			v.visitor = e.UserID
		}
		var utm event.UTM
		if e.Context != nil && e.Context.UTM != nil {
			utm = *e.Context.UTM
		}
		v.utmSource, v.utmMedium, v.utmCampaign, v.utmTerm, v.utmContent = utm.Source, utm.Medium, utm.Campaign, utm.Term, utm.Content
		v.browser, v.os, v.device = e.Browser, e.OS, e.Device
		v.classify(page.Referrer, page.URL)
	}
	switch e.Type {
	case event.Pageview:
		v.pageviews++
		if v.entry.zero() || o.less(v.entry) {
			v.entry, v.entryPage = o, page.Path
		}
		if v.exit.zero() || v.exit.less(o) {
			v.exit, v.exitPage = o, page.Path
		}
	case event.Click, event.Search, event.FormSubmit, event.Custom:
		v.interactions++
	}
	v.settle()
}

// classify sets the visit's referrer, source and channel from its first
// event's referrer and landing URL and the UTM tags v holds, which are
// the first event's too. They change only with the first event, so a
// stored row keeps them until an earlier event arrives.
func (v *visit) classify(rawReferrer, landingURL string) {
	o := classify(rawReferrer, landingURL, v.utmSource, v.utmMedium)
	v.referrer, v.source, v.channel = o.referrer, o.source, o.channel
}

// settle derives the duration and bounce from the rest of the row.
func (v *visit) settle() {
	v.duration = uint32(v.finish.Sub(v.start) / time.Second)
	v.bounce = 0
	if v.pageviews <= 1 && v.interactions == 0 {
		v.bounce = 1
	}
}
