package loader

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/event"
)

// visitLookback is how far before a batch's earliest event a visit's
// earlier events are looked for: a visit lasts at most this long in
// reports. The beacon ends a visit after 30 minutes without activity.
const visitLookback = 24 * time.Hour

// visit is one row of the sessions table: the visit's figures and the
// order of the events its first-event fields, entry page and exit page
// come from (first is zero in a row written before those columns were).
type visit struct {
	site, session, visitor                                 string
	start, finish                                          time.Time
	duration, pageviews, events, interactions              uint32
	bounce                                                 uint8
	entryPage, exitPage, referrer, source, channel         string
	utmSource, utmMedium, utmCampaign, utmTerm, utmContent string
	browser, os, device                                    string
	first, entry, exit                                     order // entry and exit are zero while the visit has no pageview
}

// sessionColumns of the sessions table, in the order visit.row fills them.
const sessionColumns = `site_id, session_id, sign, visitor, start, finish, duration, pageviews,
	events, interactions, is_bounce, entry_page, exit_page, referrer, source, channel,
	utm_source, utm_medium, utm_campaign, utm_term, utm_content, browser, os, device,
	first_ts, first_id, entry_ts, entry_id, exit_ts, exit_id`

func (v visit) row(sign int8) []any {
	return []any{v.site, v.session, sign, v.visitor, v.start, v.finish, v.duration, v.pageviews,
		v.events, v.interactions, v.bounce, v.entryPage, v.exitPage, v.referrer, v.source, v.channel,
		v.utmSource, v.utmMedium, v.utmCampaign, v.utmTerm, v.utmContent, v.browser, v.os, v.device,
		v.first.ts, v.first.id, v.entry.ts, v.entry.id, v.exit.ts, v.exit.id}
}

// visits keeps the sessions table. For every visit a batch touches it
// works out, before the batch's events are inserted, the row the visit
// has once they are: its stored row folded with the batch's fresh events
// (those the events table does not hold), by the order keys the row
// keeps. Where the visit changed it writes, once the events are in, the
// old row with sign -1 and the new one with sign +1 (a CollapsingMergeTree
// folds the pair; the rollup over it nets them out).
//
// Why that is the row the old way gave, reading back every stored event
// of the visit (a day of the site's events scanned a batch): a visits
// write follows the insert of its events and is never made without it (a
// failed insert writes no visit; there is nothing to take back), so a row
// never counts an event the events table does not hold; fresh events
// are new ids, and the fold does not depend on the order events come in
// (counts add, start and finish are a min and a max, the first event,
// entry and exit are the least or greatest by (ts, id), a total order,
// and the fields taken from them change only with them), so folding them
// into a row that counts the visit's stored events gives what ClickHouse
// aggregates over them all. A row counts every
// stored event of its visit unless a loader died, or its visits write
// failed, after an events insert: then those events come again (their
// offsets were not committed; a client resend or a replay brings them
// too), and the batch that brings one finds it stored. That visit, and a
// row written before sessions kept the order keys (first zero), is read
// back from the events table as before, which does not depend on the
// stored row: it puts right whatever the row lacked, including events
// another topic's partition of the same visitor folded into the lagging
// row meanwhile (that row still counted only stored events, and its
// change netted out). Both ways a batch written twice (a retry, a
// redelivery, a replay) writes the same rows or none, and no visit
// counts twice. A visit longer than the lookback is the exception either
// way: neither reads its row or its events from before it.
type visits struct {
	lookback time.Duration
	reread   atomic.Uint64 // visits whose events were read back: tests check the common path reads none
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

// stored reads the rows the sessions table holds for the touched visits,
// the rows their changes start from.
func (t touched) stored(ctx context.Context, conn driver.Conn) (map[visitKey]visit, error) {
	return each(ctx, conn, t, stored)
}

// only is t narrowed to the visits of keys.
func (t touched) only(keys map[visitKey]bool) touched {
	n := touched{sessions: map[string][]string{}, since: t.since}
	for k := range keys {
		n.sessions[k.site] = append(n.sessions[k.site], k.session)
	}
	return n
}

// after returns the rows of the touched visits once events[i], i in
// fresh, are in the events table, given their stored rows. Read before
// those events are inserted: a visit read back from the events table
// must not count them yet.
func (vs *visits) after(ctx context.Context, conn driver.Conn, t touched, stored map[visitKey]visit,
	events []*event.Event, fresh []int) (map[visitKey]visit, error) {
	isFresh := make([]bool, len(events))
	for _, i := range fresh {
		isFresh[i] = true
	}
	reread := map[visitKey]bool{}
	for i, e := range events {
		if inVisit(e) && !isFresh[i] { // stored already: its row may not count it
			reread[visitKey{e.SiteID, e.SessionID}] = true
		}
	}
	now := make(map[visitKey]visit, len(stored))
	for k, v := range stored {
		switch {
		case v.first.zero(): // written before the order keys were kept
			reread[k] = true
		case !reread[k]:
			now[k] = v
		}
	}
	if len(reread) > 0 {
		read, err := each(ctx, conn, t.only(reread), tallies)
		if err != nil {
			return nil, err
		}
		maps.Copy(now, read)
		vs.reread.Add(uint64(len(reread)))
	}
	fold(now, events, fresh)
	return now, nil
}

// change is a visit whose row the batch changes.
type change struct {
	old, now visit
	had      bool // whether sessions held old
}

type changeSet []change

// changes are the visits of now whose rows differ from old's.
func changes(old, now map[visitKey]visit) changeSet {
	var out changeSet
	for k, v := range now {
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

// writeVisits inserts rows into sessions.
func writeVisits(ctx context.Context, conn driver.Conn, rows [][]any) error {
	b, err := prepareVisits(ctx, conn, rows)
	if err != nil {
		return err
	}
	return sendVisits(b, len(rows))
}

// prepareVisits hands rows to the driver as an insert into sessions, not
// sent yet: nil when there are none.
func prepareVisits(ctx context.Context, conn driver.Conn, rows [][]any) (driver.Batch, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO sessions ("+sessionColumns+")")
	if err != nil {
		return nil, fmt.Errorf("prepare insert into sessions: %w", err)
	}
	for _, r := range rows {
		if err := b.Append(r...); err != nil {
			_ = b.Abort()
			return nil, fmt.Errorf("append visit: %w", err)
		}
	}
	return b, nil
}

// sendVisits sends b, prepared by prepareVisits with n rows.
func sendVisits(b driver.Batch, n int) error {
	if b == nil {
		return nil
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d rows into sessions: %w", n, err)
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
			&v.utmSource, &v.utmMedium, &v.utmCampaign, &v.utmTerm, &v.utmContent, &v.browser, &v.os, &v.device,
			&v.first.ts, &v.first.id, &v.entry.ts, &v.entry.id, &v.exit.ts, &v.exit.id); err != nil {
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
