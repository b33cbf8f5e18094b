package loader

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/event"
)

// visitLookback is how far before a batch's earliest event a visit's
// earlier events are looked for: a visit lasts at most this long in
// reports. The beacon ends a visit after 30 minutes without activity.
const visitLookback = 24 * time.Hour

// visit is one row of the sessions table.
type visit struct {
	site, session, visitor                                 string
	start, finish                                          time.Time
	duration, pageviews, events, interactions              uint32
	bounce                                                 uint8
	entryPage, exitPage, referrer, source, channel         string
	utmSource, utmMedium, utmCampaign, utmTerm, utmContent string
	browser, os, device                                    string
}

// sessionColumns of the sessions table, in the order visit.row fills them.
const sessionColumns = `site_id, session_id, sign, visitor, start, finish, duration, pageviews,
	events, interactions, is_bounce, entry_page, exit_page, referrer, source, channel,
	utm_source, utm_medium, utm_campaign, utm_term, utm_content, browser, os, device`

func (v visit) row(sign int8) []any {
	return []any{v.site, v.session, sign, v.visitor, v.start, v.finish, v.duration, v.pageviews,
		v.events, v.interactions, v.bounce, v.entryPage, v.exitPage, v.referrer, v.source, v.channel,
		v.utmSource, v.utmMedium, v.utmCampaign, v.utmTerm, v.utmContent, v.browser, v.os, v.device}
}

// visits keeps the sessions table. After each batch it recomputes, from
// the events table, every visit the batch touched, and where a visit
// changed it writes the old row with sign -1 and the new one with sign +1
// (a CollapsingMergeTree folds the pair; the rollup over it nets them
// out). Because the new row is a function of the events table alone, a
// batch written twice (a retry, a redelivery after a crash, a replay)
// writes the same rows, or none: no visit counts twice.
type visits struct {
	lookback time.Duration
}

type visitKey struct{ site, session string }

// touched are the visits a batch touched, per site, and for each site
// how far back their events are looked for.
type touched struct {
	sessions map[string][]string
	since    map[string]time.Time // per site: the earliest event, less the lookback
}

// touched gathers the visits of events. Events of bots and events
// without a session (server-side) make no visit.
func (vs *visits) touched(events []*event.Event) touched {
	t := touched{sessions: map[string][]string{}, since: map[string]time.Time{}}
	known := map[visitKey]bool{}
	for _, e := range events {
		if e.Bot || e.SessionID == "" {
			continue
		}
		k := visitKey{e.SiteID, e.SessionID}
		if !known[k] {
			known[k] = true
			t.sessions[e.SiteID] = append(t.sessions[e.SiteID], e.SessionID)
		}
		at := eventTime(e).Add(-vs.lookback)
		if s, ok := t.since[e.SiteID]; !ok || at.Before(s) {
			t.since[e.SiteID] = at
		}
	}
	return t
}

// stored reads the rows the sessions table holds for the touched visits.
// It does not read the events table, so it may run while the batch's
// events are inserted.
func (t touched) stored(ctx context.Context, conn driver.Conn) (map[visitKey]visit, error) {
	return t.each(ctx, conn, stored)
}

// write recomputes the touched visits from the events table, which must
// hold the batch by now, and writes those that differ from old.
func (t touched) write(ctx context.Context, conn driver.Conn, old map[visitKey]visit) error {
	now, err := t.each(ctx, conn, recompute)
	if err != nil {
		return err
	}
	var rows [][]any
	for k, v := range now {
		o, had := old[k]
		if had && o == v {
			continue
		}
		if had {
			rows = append(rows, o.row(-1))
		}
		rows = append(rows, v.row(1))
	}
	if len(rows) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO sessions ("+sessionColumns+")")
	if err != nil {
		return fmt.Errorf("prepare insert into sessions: %w", err)
	}
	for _, r := range rows {
		if err := b.Append(r...); err != nil {
			_ = b.Abort()
			return fmt.Errorf("append visit: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d rows into sessions: %w", len(rows), err)
	}
	return nil
}

// each runs query over the touched sessions, idChunk at a time, and
// gathers the visits it returns.
func (t touched) each(ctx context.Context, conn driver.Conn,
	query func(context.Context, driver.Conn, string, []string, time.Time) (map[visitKey]visit, error)) (map[visitKey]visit, error) {
	out := map[visitKey]visit{}
	for site, sessions := range t.sessions {
		for len(sessions) > 0 {
			n := min(len(sessions), idChunk)
			v, err := query(ctx, conn, site, sessions[:n], t.since[site])
			if err != nil {
				return nil, err
			}
			maps.Copy(out, v)
			sessions = sessions[n:]
		}
	}
	return out, nil
}

// stored reads the current rows of sessions, as the table holds them.
func stored(ctx context.Context, conn driver.Conn, site string, sessions []string, since time.Time) (map[visitKey]visit, error) {
	rows, err := conn.Query(ctx, `SELECT `+sessionColumns+` FROM sessions FINAL
		WHERE site_id = ? AND start >= ? AND session_id IN (SELECT arrayJoin(?)) AND sign = 1`,
		site, since.Truncate(time.Second), sessions)
	if err != nil {
		return nil, fmt.Errorf("read visits: %w", err)
	}
	return scanVisits(rows)
}

// recompute derives the visits from the events table. The entry and exit
// pages are the first and last pageviews by client time, then id, so the
// same events always give the same row.
func recompute(ctx context.Context, conn driver.Conn, site string, sessions []string, since time.Time) (map[visitKey]visit, error) {
	rows, err := conn.Query(ctx, `SELECT
		site_id, session_id, toInt8(1),
		argMin(if(anonymous_id != '', anonymous_id, user_id), (ts, id)),
		min(time), max(time), toUInt32(max(time) - min(time)),
		toUInt32(uniqExactIf(id, type = 'pageview')),
		toUInt32(uniqExact(id)),
		toUInt32(uniqExactIf(id, type IN ('click', 'search', 'form_submit', 'custom'))),
		toUInt8(0),
		argMinIf(page_path, (ts, id), type = 'pageview'),
		argMaxIf(page_path, (ts, id), type = 'pageview'),
		argMin(page_referrer, (ts, id)),
		argMin(page_url, (ts, id)),
		'',
		argMin(utm_source, (ts, id)), argMin(utm_medium, (ts, id)), argMin(utm_campaign, (ts, id)),
		argMin(utm_term, (ts, id)), argMin(utm_content, (ts, id)),
		argMin(browser, (ts, id)), argMin(os, (ts, id)), argMin(device, (ts, id))
		FROM events
		WHERE site_id = ? AND time >= ? AND session_id IN (SELECT arrayJoin(?)) AND bot = 0
		GROUP BY site_id, session_id`,
		site, since.Truncate(time.Second), sessions)
	if err != nil {
		return nil, fmt.Errorf("recompute visits: %w", err)
	}
	out, err := scanVisits(rows)
	if err != nil {
		return nil, err
	}
	for k, v := range out {
		// The query put the referrer in referrer and the landing URL in
		// source: the source and channel come from both.
		o := classify(v.referrer, v.source, v.utmSource, v.utmMedium)
		v.referrer, v.source, v.channel = o.referrer, o.source, o.channel
		if v.pageviews <= 1 && v.interactions == 0 {
			v.bounce = 1
		}
		out[k] = v
	}
	return out, nil
}

func scanVisits(rows driver.Rows) (map[visitKey]visit, error) {
	out := map[visitKey]visit{}
	for rows.Next() {
		var v visit
		var sign int8
		if err := rows.Scan(&v.site, &v.session, &sign, &v.visitor, &v.start, &v.finish, &v.duration, &v.pageviews,
			&v.events, &v.interactions, &v.bounce, &v.entryPage, &v.exitPage, &v.referrer, &v.source, &v.channel,
			&v.utmSource, &v.utmMedium, &v.utmCampaign, &v.utmTerm, &v.utmContent, &v.browser, &v.os, &v.device); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read visits: %w", err)
		}
		v.start, v.finish = v.start.UTC(), v.finish.UTC()
		out[visitKey{v.site, v.session}] = v
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read visits: %w", err)
	}
	return out, nil
}
