package privacy

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/clickhouse"
)

// LogIDKeys are the log attributes that name a visitor: Footfall's own
// names and OpenTelemetry's (enduser.id). A record whose attribute under
// one of them is a forgotten id is deleted whole, and the loader drops a
// later one (loader/logs.go).
var LogIDKeys = []string{"user_id", "user.id", "enduser.id", "anonymous_id", "anonymous.id"}

// chSubject is what ClickHouse holds of the visitor: the filters that
// find their rows, and what deleting them touches.
type chSubject struct {
	site     string
	ids      []string // the user id and every linked anonymous id
	sessions []string // the session ids of their events
	// eventHours and visitHours are the hours (epoch seconds) whose
	// rollup rows count their events and their visits.
	eventHours, visitHours []uint32
}

func (s *chSubject) eventsWhere() (string, []any) {
	return "site_id = ? AND (has(?, user_id) OR has(?, anonymous_id))", []any{s.site, s.ids, s.ids}
}

// sessionsWhere finds their visits: by visitor, and by the session ids
// of their events (a visit's visitor is its first event's id; a session
// id is one device's, so all of a visit's events are one visitor's).
func (s *chSubject) sessionsWhere() (string, []any) {
	return "site_id = ? AND (has(?, visitor) OR has(?, session_id))", []any{s.site, s.ids, s.sessionsOrNone()}
}

// sessionsOrNone is the session ids for a has(): never an empty array,
// whose type ClickHouse cannot compare with a String. No visit has the
// session id with a space in it.
func (s *chSubject) sessionsOrNone() []string {
	if len(s.sessions) == 0 {
		return []string{"no session"}
	}
	return s.sessions
}

func (s *chSubject) logsWhere() (string, []any) {
	return "site_id = ? AND arrayExists((k, v) -> has(?, k) AND has(?, v), attributes.key, attributes.value)",
		[]any{s.site, LogIDKeys, s.ids}
}

// chTable is one table that holds visitors' rows and how to find them.
type chTable struct {
	name  string
	where func(*chSubject) (string, []any)
}

var chTables = []chTable{
	{"events", (*chSubject).eventsWhere},
	{"sessions", (*chSubject).sessionsWhere},
	{"logs", (*chSubject).logsWhere},
}

// resolveClickHouse returns the anonymous ids that events link to user
// (events that carry both).
func resolveClickHouse(ctx context.Context, conn driver.Conn, site, user string) ([]string, error) {
	return strings1(ctx, conn, `SELECT DISTINCT anonymous_id FROM events
		WHERE site_id = ? AND user_id = ? AND anonymous_id != ''`, site, user)
}

// describe fills in what the subject's rows touch, and returns the ids
// of their events (for the enricher's processed_events).
func describe(ctx context.Context, conn driver.Conn, s *chSubject) (eventIDs []string, err error) {
	w, args := s.eventsWhere()
	if eventIDs, err = strings1(ctx, conn, "SELECT DISTINCT id FROM events WHERE "+w, args...); err != nil {
		return nil, err
	}
	if s.sessions, err = strings1(ctx, conn, "SELECT DISTINCT session_id FROM events WHERE "+w+" AND session_id != ''", args...); err != nil {
		return nil, err
	}
	if s.eventHours, err = hours(ctx, conn, "SELECT DISTINCT toUInt32(toStartOfHour(time)) FROM events WHERE "+w, args...); err != nil {
		return nil, err
	}
	w, args = s.sessionsWhere()
	if s.visitHours, err = hours(ctx, conn, "SELECT DISTINCT toUInt32(toStartOfHour(start)) FROM sessions WHERE "+w, args...); err != nil {
		return nil, err
	}
	return eventIDs, nil
}

// deleteClickHouse deletes the subject's rows from every table, and
// returns how many each held. ClickHouse deletes by mutations, run in the
// background: it returns once they are done.
func deleteClickHouse(ctx context.Context, client *clickhouse.Client, conn driver.Conn, s *chSubject, wait time.Duration) ([]Count, error) {
	var out []Count
	var mutated []string
	for _, t := range chTables {
		w, args := t.where(s)
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+t.name+" WHERE "+w, args...).Scan(&n); err != nil {
			return out, fmt.Errorf("count the visitor's rows of %s: %w", t.name, err)
		}
		out = append(out, Count{Store: StoreClickHouse, Table: t.name, Rows: int64(n), Unit: UnitRows})
		if n == 0 {
			continue
		}
		if err := client.Delete(ctx, conn, t.name, w, args...); err != nil {
			return out, fmt.Errorf("delete the visitor's rows: %w", err)
		}
		mutated = append(mutated, t.name)
	}
	if err := client.WaitMutations(ctx, conn, mutated, wait); err != nil {
		return out, fmt.Errorf("%w (run forget again once they are)", err)
	}
	return out, nil
}

// remainingClickHouse counts the subject's rows still in each table.
func remainingClickHouse(ctx context.Context, conn driver.Conn, s *chSubject) (int64, error) {
	var total int64
	for _, t := range chTables {
		w, args := t.where(s)
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+t.name+" WHERE "+w, args...).Scan(&n); err != nil {
			return 0, fmt.Errorf("count the visitor's rows of %s: %w", t.name, err)
		}
		total += int64(n)
	}
	return total, nil
}

// The rollups are written by materialized views on insert; a delete from
// events or sessions leaves them as they were. rollupEvents and
// rollupSessions are those views' SELECTs (migrations/clickhouse/0002),
// limited to one site's hours and leaving out the forgotten visitor's
// rows: the figures of an hour are dropped and computed again from the
// other visitors' rows, as the views computed them. That is done before
// the raw rows go, so that a forget that fails after it and runs again
// still finds the hours to recompute.
const rollupEvents = `INSERT INTO events_hourly (site_id, hour, dimension, value, lvl, events, pageviews, zero_results, visitors)
SELECT
    CAST(site_id AS String) AS site_id,
    toStartOfHour(time) AS hour,
    d.1 AS dimension,
    d.2 AS value,
    toUInt8(multiIf((sipHash64(if(anonymous_id != '', anonymous_id, user_id)) AS h) % 128 = 0, 7,
        h % 64 = 0, 6, h % 32 = 0, 5, h % 16 = 0, 4, h % 8 = 0, 3, h % 4 = 0, 2, h % 2 = 0, 1, 0)) AS lvl,
    countState() AS events,
    sumState(toUInt64(type = 'pageview')) AS pageviews,
    sumState(toUInt64(type = 'search' AND search_results = 0)) AS zero_results,
    uniqState(if(anonymous_id != '', anonymous_id, user_id)) AS visitors
FROM events
ARRAY JOIN [
    ('', ''),
    ('page', if(type = 'pageview', page_path, '')),
    ('name', multiIf(type = 'custom', name, type = 'pageview', 'pageview', '')),
    ('search', if(type = 'search', lower(replaceRegexpAll(search_keyword, '^\\s+|\\s+$', '')), '')),
    ('click', if(type = 'click', if(click_href != '', click_href, click_text), ''))
] AS d
WHERE bot = 0 AND (d.1 = '' OR d.2 != '') AND site_id = ? AND has(?, toUInt32(toStartOfHour(time)))
    AND NOT (has(?, user_id) OR has(?, anonymous_id))
GROUP BY site_id, hour, dimension, value, lvl`

const rollupSessions = `INSERT INTO sessions_hourly (site_id, hour, dimension, value, lvl, visits, bounces, duration, pageviews, visitors)
SELECT
    site_id,
    toStartOfHour(start) AS hour,
    d.1 AS dimension,
    d.2 AS value,
    toUInt8(multiIf((sipHash64(visitor) AS h) % 128 = 0, 7,
        h % 64 = 0, 6, h % 32 = 0, 5, h % 16 = 0, 4, h % 8 = 0, 3, h % 4 = 0, 2, h % 2 = 0, 1, 0)) AS lvl,
    sumState(toInt64(sign)) AS visits,
    sumState(toInt64(sign) * is_bounce) AS bounces,
    sumState(toInt64(sign) * duration) AS duration,
    sumState(toInt64(sign) * pageviews) AS pageviews,
    uniqIfState(visitor, sign > 0) AS visitors
FROM sessions
ARRAY JOIN [
    ('', ''),
    ('entry_page', entry_page),
    ('exit_page', exit_page),
    ('source', source),
    ('channel', channel),
    ('referrer', referrer),
    ('utm_source', utm_source),
    ('utm_medium', utm_medium),
    ('utm_campaign', utm_campaign),
    ('utm_term', utm_term),
    ('utm_content', utm_content),
    ('browser', browser),
    ('os', os),
    ('device', device)
] AS d
WHERE site_id = ? AND has(?, toUInt32(toStartOfHour(start)))
    AND NOT (has(?, visitor) OR has(?, session_id))
GROUP BY site_id, hour, dimension, value, lvl`

// recomputeRollups drops the rollup rows of the site's touched hours and
// writes them again from everyone's rows but the subject's. It returns
// the hours recomputed per rollup.
//
// Each rollup's delete is followed at once by its insert, and the forget
// waits for the deletes after both: a mutation only rewrites the parts
// written before it, so the recomputed rows, written after it, stay.
// Waiting in between left the hours without figures for as long as the
// mutation ran, widened the moment in which a live insert into those hours
// is counted twice (see docs/privacy.md), and on a cluster with an insert
// quorum waited on the live loader (WaitMutations). A delete and insert
// that fail halfway are tried again whole: the next delete covers
// whatever the failed insert wrote.
func recomputeRollups(ctx context.Context, client *clickhouse.Client, conn driver.Conn, s *chSubject, wait time.Duration) ([]Count, error) {
	rollups := []struct {
		table  string
		hours  []uint32
		insert string
		args   []any
	}{
		{"events_hourly", s.eventHours, rollupEvents, []any{s.site, s.eventHours, s.ids, s.ids}},
		{"sessions_hourly", s.visitHours, rollupSessions, []any{s.site, s.visitHours, s.ids, s.sessionsOrNone()}},
	}
	var out []Count
	var mutated []string
	for _, r := range rollups {
		if len(r.hours) == 0 {
			continue
		}
		err := retry(ctx, func() error {
			if err := client.Delete(ctx, conn, r.table, "site_id = ? AND has(?, toUInt32(hour))", s.site, r.hours); err != nil {
				return err
			}
			return conn.Exec(clickhouse.Rewrite(ctx), r.insert, r.args...)
		})
		if err != nil {
			return out, fmt.Errorf("recompute %d hours of %s: %w", len(r.hours), r.table, err)
		}
		mutated = append(mutated, r.table)
		out = append(out, Count{Store: StoreClickHouse, Table: r.table, Rows: int64(len(r.hours)), Unit: UnitHours})
	}
	if err := client.WaitMutations(ctx, conn, mutated, wait); err != nil {
		return out, fmt.Errorf("%w (run forget again once they are)", err)
	}
	return out, nil
}

// retryBackoff are the pauses between tries of a recompute: an insert
// into a replicated table can meet another quorum insert (18.16 runs one
// at a time per shard) or a replica that is restarting.
var retryBackoff = []time.Duration{250 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}

func retry(ctx context.Context, try func() error) error {
	err := try()
	for _, pause := range retryBackoff {
		if err == nil || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
			err = try()
		}
	}
	return err
}

func strings1(ctx context.Context, conn driver.Conn, q string, args ...any) ([]string, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query clickhouse: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("read clickhouse: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func hours(ctx context.Context, conn driver.Conn, q string, args ...any) ([]uint32, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query clickhouse: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []uint32
	for rows.Next() {
		var h uint32
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("read clickhouse: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
