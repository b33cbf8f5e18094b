package promotions

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// topQuery ranks the visitor's scored promotions, then the site's defaults.
// A score is worth its points at its last event, halving every half-life
// after (decayed, migration 0004): the sum over the visitor's keys is
// their worth now, in hundredths (view.top computes the same).
// The visitor is every id linked to the one asked about (by a server key's
// events or a verified identify): a logged-in user keeps what their
// anonymous sessions showed interest in, on any device. $2 is either kind
// of id; on a site with an identity secret the API has checked, by
// user_hash or by known_users, that a user id is asked about by that user.
const topQuery = `
WITH keys AS (
    SELECT $2::text AS k
    UNION SELECT user_id FROM identities WHERE site_id = $1 AND anonymous_id = $2
    UNION SELECT anonymous_id FROM identities WHERE site_id = $1 AND user_id = $2
    UNION SELECT i2.anonymous_id FROM identities i1
          JOIN identities i2 ON i2.site_id = i1.site_id AND i2.user_id = i1.user_id
          WHERE i1.site_id = $1 AND i1.anonymous_id = $2
),
personal AS (
    SELECT promotion_id, round(sum(decayed(score, last_event_at, now(), half_life_seconds))::numeric, 2)::float8 AS score,
           (array_agg(reason ORDER BY last_event_at DESC))[1] AS reason,
           max(last_event_at) AS last
    FROM user_promotions
    WHERE site_id = $1 AND user_key IN (SELECT k FROM keys) AND expires_at > now()
    GROUP BY promotion_id
)
SELECT p.id, p.title, p.url, p.image, coalesce(pe.score, 0), coalesce(pe.reason, 'default')
FROM promotions p
LEFT JOIN personal pe ON pe.promotion_id = p.id
WHERE p.site_id = $1
  AND (p.starts_at IS NULL OR p.starts_at <= now())
  AND (p.ends_at IS NULL OR p.ends_at > now())
  AND (pe.promotion_id IS NOT NULL OR p.is_default)
ORDER BY pe.score DESC NULLS LAST, pe.last DESC, p.priority DESC, p.id
LIMIT $3`

// top answers from the view of a live API, else from PostgreSQL.
func (a *API) top(ctx context.Context, site, user string, limit int) ([]Promotion, error) {
	if a.view != nil {
		return a.view.top(site, user, limit, time.Now())
	}
	rows, err := a.pool.Query(ctx, topQuery, site, user, limit)
	if err != nil {
		return nil, fmt.Errorf("query promotions: %w", err)
	}
	out := []Promotion{}
	var p Promotion
	_, err = pgx.ForEachRow(rows, []any{&p.ID, &p.Title, &p.URL, &p.Image, &p.Score, &p.Reason}, func() error {
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("query promotions: %w", err)
	}
	return out, nil
}

// knownUser tells whether user is a user id the enricher holds state for
// on site, rather than an anonymous id.
func (a *API) knownUser(ctx context.Context, site, user string) (bool, error) {
	if a.view != nil {
		return a.view.knownUser(site, user)
	}
	var known bool
	err := a.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM known_users WHERE site_id = $1 AND user_id = $2)`, site, user).Scan(&known)
	if err != nil {
		return false, fmt.Errorf("query known_users: %w", err)
	}
	return known, nil
}
