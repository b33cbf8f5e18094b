package enricher

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// scoreKey identifies one user_promotions row.
type scoreKey struct{ site, user, promotion string }

// score is what a batch adds to one row.
type score struct {
	points float64
	reason string
	last   time.Time
}

// link is an anonymous id seen with a vouched-for user id.
type link struct{ site, anonymousID, userID string }

// knownUser is a vouched-for user id the enricher has seen.
type knownUser struct{ site, userID string }

// seenEvent is an event that would change state, checked against
// processed_events so a resend or replay is applied once.
type seenEvent struct{ site, id string }

// partitionKey is one topic partition.
type partitionKey struct {
	topic     string
	partition int32
}

// store is the enricher's PostgreSQL side.
type store struct {
	pool  *pgxpool.Pool
	group string
}

// nextOffsets reads the stored offsets of topic.
func (s *store) nextOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2`, s.group, topic)
	if err != nil {
		return nil, fmt.Errorf("read consumer_offsets: %w", err)
	}
	out := map[int32]int64{}
	var p int32
	var off int64
	_, err = pgx.ForEachRow(rows, []any{&p, &off}, func() error { out[p] = off; return nil })
	if err != nil {
		return nil, fmt.Errorf("read consumer_offsets: %w", err)
	}
	return out, nil
}

// lockOffsets reads and row-locks the group's offsets inside tx, so two
// members that both hold a partition during a rebalance cannot both apply it.
func (s *store) lockOffsets(ctx context.Context, tx pgx.Tx) (map[partitionKey]int64, error) {
	rows, err := tx.Query(ctx, `SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1 FOR UPDATE`, s.group)
	if err != nil {
		return nil, fmt.Errorf("lock consumer_offsets: %w", err)
	}
	out := map[partitionKey]int64{}
	var k partitionKey
	var off int64
	_, err = pgx.ForEachRow(rows, []any{&k.topic, &k.partition, &off}, func() error { out[k] = off; return nil })
	if err != nil {
		return nil, fmt.Errorf("lock consumer_offsets: %w", err)
	}
	return out, nil
}

// firstSeen records events in processed_events and returns those that were
// not there yet.
func (s *store) firstSeen(ctx context.Context, tx pgx.Tx, events []seenEvent) (map[seenEvent]bool, error) {
	sites, ids := make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		sites[i], ids[i] = e.site, e.id
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO processed_events (site_id, event_id)
		SELECT * FROM unnest($1::text[], $2::uuid[])
		ON CONFLICT DO NOTHING
		RETURNING site_id, event_id::text`, sites, ids)
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

// addScores upserts the batch's score changes. Rows for promotions deleted
// since the catalog was loaded are dropped by the join rather than failing
// the batch on the foreign key.
func (s *store) addScores(ctx context.Context, tx pgx.Tx, scores map[scoreKey]*score, ttl time.Duration) (int64, error) {
	n := len(scores)
	sites, users, promos := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	points, reasons := make([]float64, 0, n), make([]string, 0, n)
	lasts, expiries := make([]time.Time, 0, n), make([]time.Time, 0, n)
	for k, v := range scores {
		sites, users, promos = append(sites, k.site), append(users, k.user), append(promos, k.promotion)
		points, reasons = append(points, v.points), append(reasons, v.reason)
		lasts, expiries = append(lasts, v.last), append(expiries, v.last.Add(ttl))
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO user_promotions (site_id, user_key, promotion_id, score, reason, last_event_at, expires_at)
		SELECT u.site_id, u.user_key, u.promotion_id, u.score, u.reason, u.last_event_at, u.expires_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::timestamptz[], $7::timestamptz[])
		  AS u(site_id, user_key, promotion_id, score, reason, last_event_at, expires_at)
		JOIN promotions p ON p.site_id = u.site_id AND p.id = u.promotion_id
		ON CONFLICT (site_id, user_key, promotion_id) DO UPDATE SET
		  score = CASE WHEN user_promotions.expires_at < now() THEN 0 ELSE user_promotions.score END + EXCLUDED.score,
		  reason = EXCLUDED.reason,
		  last_event_at = GREATEST(user_promotions.last_event_at, EXCLUDED.last_event_at),
		  expires_at = GREATEST(user_promotions.expires_at, EXCLUDED.expires_at),
		  updated_at = now()`,
		sites, users, promos, points, reasons, lasts, expiries)
	if err != nil {
		return 0, fmt.Errorf("upsert user_promotions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// addLinks records anonymous id ↔ user id links.
func (s *store) addLinks(ctx context.Context, tx pgx.Tx, links map[link]bool) error {
	sites, anons, users := make([]string, 0, len(links)), make([]string, 0, len(links)), make([]string, 0, len(links))
	for l := range links {
		sites, anons, users = append(sites, l.site), append(anons, l.anonymousID), append(users, l.userID)
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO identities (site_id, anonymous_id, user_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
		ON CONFLICT DO NOTHING`, sites, anons, users)
	if err != nil {
		return fmt.Errorf("insert identities: %w", err)
	}
	return nil
}

// addKnownUsers records user ids the enricher holds state for, so that the
// promotions API can tell a lookup by user id (which needs the user's hash
// on a site with an identity secret) from one by anonymous id. Written in
// the batch's transaction, a user id is known before any row about it can
// be read.
func (s *store) addKnownUsers(ctx context.Context, tx pgx.Tx, users map[knownUser]bool) error {
	sites, ids := make([]string, 0, len(users)), make([]string, 0, len(users))
	for u := range users {
		sites, ids = append(sites, u.site), append(ids, u.userID)
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO known_users (site_id, user_id)
		SELECT * FROM unnest($1::text[], $2::text[])
		ON CONFLICT DO NOTHING`, sites, ids)
	if err != nil {
		return fmt.Errorf("insert known_users: %w", err)
	}
	return nil
}

// saveOffsets stores the next offset to read per partition.
func (s *store) saveOffsets(ctx context.Context, tx pgx.Tx, next map[partitionKey]int64) error {
	topics, parts, offs := make([]string, 0, len(next)), make([]int32, 0, len(next)), make([]int64, 0, len(next))
	for k, off := range next {
		topics, parts, offs = append(topics, k.topic), append(parts, k.partition), append(offs, off)
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
		SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[])
		ON CONFLICT (group_id, topic, partition) DO UPDATE SET
		  next_offset = GREATEST(consumer_offsets.next_offset, EXCLUDED.next_offset), updated_at = now()`,
		s.group, topics, parts, offs)
	if err != nil {
		return fmt.Errorf("save consumer_offsets: %w", err)
	}
	return nil
}

// pruneProcessed forgets event ids older than keep: a resend arrives within
// minutes, a replay older than keep is an operator's deliberate rebuild.
func (s *store) pruneProcessed(ctx context.Context, keep time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM processed_events WHERE processed_at < now() - make_interval(secs => $1)`, keep.Seconds())
	if err != nil {
		return 0, fmt.Errorf("prune processed_events: %w", err)
	}
	return tag.RowsAffected(), nil
}
