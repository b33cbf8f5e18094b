package enricher

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/pgoffsets"
)

// scoreKey identifies one user_promotions row.
type scoreKey struct{ site, user, promotion string }

// score is what a batch adds to one row: points as of last, under rules.
type score struct {
	points float64
	reason string
	last   time.Time
	rules  rules
}

// link is an anonymous id seen with a vouched-for user id.
type link struct{ site, anonymousID, userID string }

// knownUser is a vouched-for user id the enricher has seen.
type knownUser struct{ site, userID string }

// seenEvent is an event that would change state, checked against
// processed_events so a resend or replay is applied once.
type seenEvent struct{ site, id string }

// tables are where a store keeps scores and event ids: the live tables,
// or a replay's shadow tables (replay.go).
type tables struct{ scores, processed string }

var (
	liveTables   = tables{"user_promotions", "processed_events"}
	shadowTables = tables{"user_promotions_next", "processed_events_next"}
)

// store is the enricher's PostgreSQL side.
type store struct {
	pool   *pgxpool.Pool
	group  string
	tables tables
	// upsertScores and insertProcessed are the statements on tables.
	upsertScores, insertProcessed string
}

func newStore(pool *pgxpool.Pool, group string, t tables) *store {
	return &store{
		pool: pool, group: group, tables: t,
		upsertScores:    fmt.Sprintf(upsertScores, t.scores),
		insertProcessed: fmt.Sprintf(insertProcessed, t.processed),
	}
}

// firstSeen records events in processed_events and returns those that were
// not there yet. The ids go in key order, as the upserts' rows do: two
// members inserting the same ids (copies of events on partitions of both)
// insert them in one order and cannot deadlock on the primary key.
func (s *store) firstSeen(ctx context.Context, tx pgx.Tx, events []seenEvent) (map[seenEvent]bool, error) {
	slices.SortFunc(events, func(a, b seenEvent) int {
		return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.id, b.id))
	})
	// The ids go as text and PostgreSQL casts each: pgx sends a []string
	// it is told is a uuid[] as text only after failing to encode it as
	// binary, an error built per batch. An id that is no UUID is refused
	// all the same (SQLSTATE 22P02).
	sites, ids := make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		sites[i], ids[i] = e.site, e.id
	}
	rows, err := tx.Query(ctx, s.insertProcessed, sites, ids)
	if err != nil {
		return nil, fmt.Errorf("record processed events: %w", err)
	}
	fresh := map[seenEvent]bool{}
	var e seenEvent
	_, err = pgx.ForEachRow(rows, []any{&e.site, &e.id}, func() error { fresh[e] = true; return nil })
	if err != nil {
		return nil, fmt.Errorf("record processed events: %w", err)
	}
	return fresh, nil
}

// insertProcessed records event ids in the processed table %s.
const insertProcessed = `
	INSERT INTO %s (site_id, event_id)
	SELECT site_id, event_id::uuid FROM unnest($1::text[], $2::text[]) AS e(site_id, event_id)
	ON CONFLICT DO NOTHING
	RETURNING site_id, event_id::text`

// sortedKeys returns m's keys in order. The rows a batch upserts are sent
// in key order: members holding different partitions now write side by
// side, and one visitor's searches and clicks (or one user's devices) may
// be on partitions of two members; rows taken in one order cannot
// deadlock.
func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, compare)
	return keys
}

// upsertScores adds a batch's score changes to user_promotions (or the
// table %s names). A score is worth its points at its last_event_at and
// halves every half_life_seconds after: the stored score and the new one
// are both decayed to the later of their times and added (decayed, 0004),
// so the result does not depend on the order events come in, nor on how
// they are split into batches (up to rounding), which a replay relies on;
// the sum is capped at the site's max_score. A row past its expiry at the
// new event's time counts as 0. Rows for
// promotions deleted since the catalog was loaded are dropped by the join
// rather than failing the batch on the foreign key. It returns each row as
// it now is, for the batch's promotion updates.
//
// updated_at is the row's version for the readers of those updates: taken
// by clock_timestamp() once the row is locked, and at least a microsecond
// past the last one, it grows with every write of the row in the order the
// writes commit (now(), the transaction's start, would not: a transaction
// that waited for another's lock on the row started before it). Not
// indexed, so a raise stays a HOT update (0003).
const upsertScores = `
	INSERT INTO %[1]s AS t (site_id, user_key, promotion_id, score, reason, last_event_at, expires_at, half_life_seconds, rule_version, updated_at)
	SELECT u.site_id, u.user_key, u.promotion_id, u.score, u.reason, u.last_event_at, u.expires_at, u.half_life, u.rule_version, clock_timestamp()
	FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::float8[], $9::bigint[])
	  AS u(site_id, user_key, promotion_id, score, reason, last_event_at, expires_at, half_life, rule_version)
	JOIN promotions p ON p.site_id = u.site_id AND p.id = u.promotion_id
	ON CONFLICT (site_id, user_key, promotion_id) DO UPDATE SET
	  score = LEAST(
	    (SELECT r.max_score FROM rule_sets r WHERE r.site_id IN (t.site_id, '') ORDER BY r.site_id DESC LIMIT 1),
	    CASE WHEN t.expires_at < EXCLUDED.last_event_at THEN 0
	         ELSE decayed(t.score, t.last_event_at, EXCLUDED.last_event_at, EXCLUDED.half_life_seconds) END
	    + decayed(EXCLUDED.score, EXCLUDED.last_event_at, t.last_event_at, EXCLUDED.half_life_seconds)),
	  reason = CASE WHEN EXCLUDED.last_event_at >= t.last_event_at THEN EXCLUDED.reason ELSE t.reason END,
	  last_event_at = GREATEST(t.last_event_at, EXCLUDED.last_event_at),
	  expires_at = GREATEST(t.expires_at, EXCLUDED.expires_at),
	  half_life_seconds = EXCLUDED.half_life_seconds,
	  rule_version = EXCLUDED.rule_version,
	  updated_at = GREATEST(clock_timestamp(), t.updated_at + interval '1 microsecond')
	RETURNING site_id, user_key, promotion_id, score, reason, last_event_at, expires_at, half_life_seconds, rule_version, updated_at`

// scoresArgs are upsertScores' arguments.
func scoresArgs(scores map[scoreKey]*score, ttl time.Duration) []any {
	n := len(scores)
	sites, users, promos := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	points, reasons := make([]float64, 0, n), make([]string, 0, n)
	lasts, expiries := make([]time.Time, 0, n), make([]time.Time, 0, n)
	halfLives, versions := make([]float64, 0, n), make([]int64, 0, n)
	for _, k := range sortedKeys(scores, func(a, b scoreKey) int {
		return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.user, b.user), strings.Compare(a.promotion, b.promotion))
	}) {
		v := scores[k]
		sites, users, promos = append(sites, k.site), append(users, k.user), append(promos, k.promotion)
		points, reasons = append(points, v.points), append(reasons, v.reason)
		lasts, expiries = append(lasts, v.last), append(expiries, v.last.Add(ttl))
		halfLives, versions = append(halfLives, v.rules.halfLife), append(versions, v.rules.version)
	}
	return []any{sites, users, promos, points, reasons, lasts, expiries, halfLives, versions}
}

// insertLinks records anonymous id ↔ user id links.
const insertLinks = `
	INSERT INTO identities (site_id, anonymous_id, user_id)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
	ON CONFLICT DO NOTHING
	RETURNING site_id, anonymous_id, user_id`

// linksArgs are insertLinks' arguments.
func linksArgs(links map[link]bool) []any {
	sites, anons, users := make([]string, 0, len(links)), make([]string, 0, len(links)), make([]string, 0, len(links))
	for _, l := range sortedKeys(links, func(a, b link) int {
		return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.anonymousID, b.anonymousID), strings.Compare(a.userID, b.userID))
	}) {
		sites, anons, users = append(sites, l.site), append(anons, l.anonymousID), append(users, l.userID)
	}
	return []any{sites, anons, users}
}

// insertKnownUsers records user ids the enricher holds state for, so that
// the promotions API can tell a lookup by user id (which needs the user's
// hash on a site with an identity secret) from one by anonymous id.
// Written in the batch's transaction, a user id is known before any row
// about it can be read.
const insertKnownUsers = `
	INSERT INTO known_users (site_id, user_id)
	SELECT * FROM unnest($1::text[], $2::text[])
	ON CONFLICT DO NOTHING
	RETURNING site_id, user_id`

// knownUsersArgs are insertKnownUsers' arguments.
func knownUsersArgs(users map[knownUser]bool) []any {
	sites, ids := make([]string, 0, len(users)), make([]string, 0, len(users))
	for _, u := range sortedKeys(users, func(a, b knownUser) int {
		return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.userID, b.userID))
	}) {
		sites, ids = append(sites, u.site), append(ids, u.userID)
	}
	return []any{sites, ids}
}

// changes are what a batch writes once its events are deduplicated.
type changes struct {
	scores map[scoreKey]*score
	links  map[link]bool
	users  map[knownUser]bool
	next   map[pgoffsets.Partition]int64
}

// write sends a batch's changes and its offsets in one round trip, and
// returns what it wrote: the user_promotions rows it inserted or raised
// and the links and known users it stored for the first time.
func (s *store) write(ctx context.Context, tx pgx.Tx, c changes, ttl time.Duration) (written, error) {
	type step struct {
		what string
		read func(pgx.Rows) error // nil: a statement without rows
	}
	w := written{scores: map[visitor][]ScoreChange{}}
	var b pgx.Batch
	var steps []step
	if len(c.scores) > 0 {
		b.Queue(s.upsertScores, scoresArgs(c.scores, ttl)...)
		steps = append(steps, step{"upsert user_promotions", func(rows pgx.Rows) error {
			var v visitor
			var sc ScoreChange
			_, err := pgx.ForEachRow(rows, []any{&v.site, &v.user, &sc.Promotion, &sc.Score, &sc.Reason, &sc.LastEventAt, &sc.ExpiresAt, &sc.HalfLife, &sc.RuleVersion, &sc.UpdatedAt}, func() error {
				w.scores[v] = append(w.scores[v], sc)
				return nil
			})
			return err
		}})
	}
	if len(c.links) > 0 {
		b.Queue(insertLinks, linksArgs(c.links)...)
		steps = append(steps, step{"insert identities", func(rows pgx.Rows) error {
			var l link
			_, err := pgx.ForEachRow(rows, []any{&l.site, &l.anonymousID, &l.userID}, func() error { w.links = append(w.links, l); return nil })
			return err
		}})
	}
	if len(c.users) > 0 {
		b.Queue(insertKnownUsers, knownUsersArgs(c.users)...)
		steps = append(steps, step{"insert known_users", func(rows pgx.Rows) error {
			var u knownUser
			_, err := pgx.ForEachRow(rows, []any{&u.site, &u.userID}, func() error { w.users = append(w.users, u); return nil })
			return err
		}})
	}
	pgoffsets.QueueSave(&b, s.group, c.next)
	steps = append(steps, step{"save consumer_offsets", nil})

	results := tx.SendBatch(ctx, &b)
	for _, st := range steps {
		var err error
		if st.read == nil {
			_, err = results.Exec()
		} else {
			var rows pgx.Rows
			if rows, err = results.Query(); err == nil {
				err = st.read(rows)
			}
		}
		if err != nil {
			_ = results.Close() // the statement's error is the one to report
			return written{}, fmt.Errorf("%s: %w", st.what, err)
		}
	}
	if err := results.Close(); err != nil {
		return written{}, fmt.Errorf("write batch: %w", err)
	}
	return w, nil
}

// pruneProcessed forgets event ids older than keep: a resend arrives within
// minutes, a replay older than keep is an operator's deliberate rebuild.
func (s *store) pruneProcessed(ctx context.Context, keep time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE processed_at < now() - make_interval(secs => $1)`, s.tables.processed), keep.Seconds())
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", s.tables.processed, err)
	}
	return tag.RowsAffected(), nil
}

// pruneExpired deletes the scores past their expiry, which no reader
// counts any more, a slice at a time so no statement holds many row locks
// against the enricher's upserts. It returns how many it deleted.
func (s *store) pruneExpired(ctx context.Context) (int64, error) {
	q := fmt.Sprintf(`DELETE FROM %[1]s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %[1]s WHERE expires_at < now() LIMIT 10000))`, s.tables.scores)
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, q)
		if err != nil {
			return total, fmt.Errorf("prune %s: %w", s.tables.scores, err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 10000 {
			return total, nil
		}
	}
}
