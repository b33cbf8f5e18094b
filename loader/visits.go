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

// visits keeps the sessions table. For every visit a batch touches it
// reads, before the batch's events are inserted, what the events table
// already holds of it, folds the batch's fresh events (those the table
// does not hold) into that, and where the visit changed it writes the old
// row with sign -1 and the new one with sign +1 (a CollapsingMergeTree
// folds the pair; the rollup over it nets them out). The new row is
// therefore a function of the events table and the batch together, which
// is the table after the insert: a batch written twice (a retry, a
// redelivery after a crash, a replay) writes the same rows, or none, and
// a visit whose events went in while its row did not (a loader killed
// between the two inserts) is put right by the retry. No visit counts
// twice, and the batch's own events are never read back.
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
		if !inVisit(e) {
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

func inVisit(e *event.Event) bool { return !e.Bot && e.SessionID != "" }

// stored reads the rows the sessions table holds for the touched visits.
// It does not read the events table, so it may run while the batch's
// events are inserted.
func (t touched) stored(ctx context.Context, conn driver.Conn) (map[visitKey]visit, error) {
	return each(ctx, conn, t, stored)
}

// tallies reads what the events table holds of the touched visits. Read
// before the batch's events are inserted, it is what they fold into.
func (t touched) tallies(ctx context.Context, conn driver.Conn) (map[visitKey]tally, error) {
	return each(ctx, conn, t, tallies)
}

// change is a visit whose row the batch changes.
type change struct {
	old, now visit
	had      bool // whether sessions held old
}

type changeSet []change

// changes are the visits of now whose rows differ from old's.
func changes(old map[visitKey]visit, now map[visitKey]tally) changeSet {
	var out changeSet
	for k, t := range now {
		v := t.visit()
		o, had := old[k]
		if had && o == v {
			continue
		}
		out = append(out, change{old: o, now: v, had: had})
	}
	return out
}

// rows make the changes: the old row cancelled, the new one added.
func (cs changeSet) rows() [][]any {
	rows := make([][]any, 0, 2*len(cs))
	for _, c := range cs {
		if c.had {
			rows = append(rows, c.old.row(-1))
		}
		rows = append(rows, c.now.row(1))
	}
	return rows
}

// undo takes the changes back.
func (cs changeSet) undo() [][]any {
	rows := make([][]any, 0, 2*len(cs))
	for _, c := range cs {
		rows = append(rows, c.now.row(-1))
		if c.had {
			rows = append(rows, c.old.row(1))
		}
	}
	return rows
}

// writeVisits inserts rows into sessions.
func writeVisits(ctx context.Context, conn driver.Conn, rows [][]any) error {
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

// each runs query over the touched sessions, a site at a time, and
// gathers what it returns. The query finds the site's sessions in the
// external table batch_sessions.
func each[V any](ctx context.Context, conn driver.Conn, t touched,
	query func(context.Context, driver.Conn, string, time.Time) (map[visitKey]V, error)) (map[visitKey]V, error) {
	out := map[visitKey]V{}
	for site, sessions := range t.sessions {
		ctx, err := withStrings(ctx, "batch_sessions", sessions)
		if err != nil {
			return nil, err
		}
		v, err := query(ctx, conn, site, t.since[site])
		if err != nil {
			return nil, err
		}
		maps.Copy(out, v)
	}
	return out, nil
}

// stored reads the current rows of sessions, as the table holds them.
func stored(ctx context.Context, conn driver.Conn, site string, since time.Time) (map[visitKey]visit, error) {
	rows, err := conn.Query(ctx, `SELECT `+sessionColumns+` FROM sessions FINAL
		WHERE site_id = ? AND start >= ? AND session_id IN batch_sessions AND sign = 1`,
		site, since.Truncate(time.Second))
	if err != nil {
		return nil, fmt.Errorf("read visits: %w", err)
	}
	return scanVisits(rows)
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
