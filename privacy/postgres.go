package privacy

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// resolvePostgres returns the anonymous ids identity links tie to user.
func resolvePostgres(ctx context.Context, pool *pgxpool.Pool, site, user string) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT anonymous_id FROM identities WHERE site_id = $1 AND user_id = $2`, site, user)
	if err != nil {
		return nil, fmt.Errorf("read identities: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read identities: %w", err)
	}
	return ids, nil
}

// pgDelete is one statement of the forget's transaction: $1 is the site,
// $2 the ids (the user id and its anonymous ids), or with byEvent the ids
// of their events.
type pgDelete struct {
	table   string
	sql     string
	byEvent bool
	// shadow tables exist only while a replay runs (enricher/swap.go).
	shadow bool
}

var pgDeletes = []pgDelete{
	{"user_promotions", `DELETE FROM user_promotions WHERE site_id = $1 AND user_key = ANY($2)`, false, false},
	{"identities", `DELETE FROM identities WHERE site_id = $1 AND (user_id = ANY($2) OR anonymous_id = ANY($2))`, false, false},
	{"known_users", `DELETE FROM known_users WHERE site_id = $1 AND user_id = ANY($2)`, false, false},
	// Reviews the visitor wrote (reviews API; their moderation_changes rows
	// go with them, ON DELETE CASCADE).
	{"reviews", `DELETE FROM reviews WHERE site_id = $1 AND author_id = ANY($2)`, false, false},
	{"processed_events", `DELETE FROM processed_events WHERE site_id = $1 AND event_id = ANY($2::uuid[])`, true, false},
	{"user_promotions_next", `DELETE FROM user_promotions_next WHERE site_id = $1 AND user_key = ANY($2)`, false, true},
	{"processed_events_next", `DELETE FROM processed_events_next WHERE site_id = $1 AND event_id = ANY($2::uuid[])`, true, true},
}

// deletePostgres deletes, in one transaction, the visitor's scores, links,
// known-user row and the ids of their events the enricher remembers, in
// the live tables and a running replay's shadow tables. The transaction
// also raises enricher_state.generation, which makes every promotions
// view read PostgreSQL afresh (promotions/live.go): a view only rereads
// rows that changed, and a deleted row never changes again.
func deletePostgres(ctx context.Context, pool *pgxpool.Pool, site string, ids, eventIDs []string) ([]Count, error) {
	uuids := make([]string, 0, len(eventIDs))
	for _, id := range eventIDs {
		// The enricher stored only ids that are UUIDs, lower-cased.
		if u, err := uuid.Parse(id); err == nil {
			uuids = append(uuids, strings.ToLower(u.String()))
		}
	}
	var out []Count
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		out = out[:0]
		for _, d := range pgDeletes {
			if d.shadow {
				var exists bool
				if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, d.table).Scan(&exists); err != nil {
					return fmt.Errorf("look for %s: %w", d.table, err)
				}
				if !exists {
					continue
				}
			}
			args := []any{site, ids}
			if d.byEvent {
				args[1] = uuids
			}
			tag, err := tx.Exec(ctx, d.sql, args...)
			if err != nil {
				return fmt.Errorf("delete from %s: %w", d.table, err)
			}
			out = append(out, Count{Store: StorePostgres, Table: d.table, Rows: tag.RowsAffected(), Unit: UnitRows})
		}
		if _, err := tx.Exec(ctx, `UPDATE enricher_state SET generation = generation + 1`); err != nil {
			return fmt.Errorf("tell the promotions views: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete from postgresql (nothing was): %w", err)
	}
	return out, nil
}

// remainingPostgres counts the rows that still name one of ids.
func remainingPostgres(ctx context.Context, pool *pgxpool.Pool, site string, ids []string) (int64, error) {
	var n int64
	err := pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM user_promotions WHERE site_id = $1 AND user_key = ANY($2)) +
		(SELECT count(*) FROM identities WHERE site_id = $1 AND (user_id = ANY($2) OR anonymous_id = ANY($2))) +
		(SELECT count(*) FROM known_users WHERE site_id = $1 AND user_id = ANY($2))`, site, ids).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count what postgresql still holds: %w", err)
	}
	return n, nil
}
