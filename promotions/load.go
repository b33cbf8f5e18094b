package promotions

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// syncOverlap is how far before its last read a resync starts reading. A
// row's updated_at is taken while its transaction runs, so a row stamped
// before a read may commit after it; the enricher's transactions last
// milliseconds, and rows read twice are harmless (setRow keeps the newest
// version).
const syncOverlap = 10 * time.Second

// pgRead is one read of PostgreSQL into the view, in one snapshot.
type pgRead struct {
	at time.Time // the snapshot's now(): the next resync reads from here
	// generation changes when a replay swaps in a rebuilt user_promotions
	// (enricher/replay.go): then rows may be gone or older than the view's.
	generation int64
	catalog    map[string][]offer
	rows       []siteRow
	links      [][3]string // site, anonymous id, user id
	known      [][2]string // site, user id
}

type siteRow struct {
	site, user, promotion string
	row
}

// readPostgres reads the catalog and what changed since since (all of it
// when since is zero) in one REPEATABLE READ transaction, so the parts
// agree with each other.
func readPostgres(ctx context.Context, pool *pgxpool.Pool, since time.Time) (*pgRead, error) {
	out := &pgRead{catalog: map[string][]offer{}}
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT now(), (SELECT generation FROM enricher_state)`).Scan(&out.at, &out.generation); err != nil {
			return fmt.Errorf("read now: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT site_id, id, title, url, image, priority, is_default, starts_at, ends_at FROM promotions`)
		if err != nil {
			return fmt.Errorf("read promotions: %w", err)
		}
		var site string
		var o offer
		var starts, ends *time.Time
		if _, err := pgx.ForEachRow(rows, []any{&site, &o.ID, &o.Title, &o.URL, &o.Image, &o.priority, &o.isDefault, &starts, &ends}, func() error {
			o.hasStarts, o.hasEndTime = starts != nil, ends != nil
			o.starts, o.ends = time.Time{}, time.Time{}
			if starts != nil {
				o.starts = *starts
			}
			if ends != nil {
				o.ends = *ends
			}
			out.catalog[site] = append(out.catalog[site], o)
			return nil
		}); err != nil {
			return fmt.Errorf("read promotions: %w", err)
		}
		if rows, err = tx.Query(ctx, `
			SELECT site_id, user_key, promotion_id, score, reason, last_event_at, expires_at, half_life_seconds, updated_at
			FROM user_promotions WHERE expires_at > now() AND updated_at > $1`, since); err != nil {
			return fmt.Errorf("read user_promotions: %w", err)
		}
		var r siteRow
		if _, err := pgx.ForEachRow(rows, []any{&r.site, &r.user, &r.promotion, &r.score, &r.reason, &r.last, &r.expires, &r.halfLife, &r.updated}, func() error {
			out.rows = append(out.rows, r)
			return nil
		}); err != nil {
			return fmt.Errorf("read user_promotions: %w", err)
		}
		if rows, err = tx.Query(ctx, `SELECT site_id, anonymous_id, user_id FROM identities WHERE linked_at > $1`, since); err != nil {
			return fmt.Errorf("read identities: %w", err)
		}
		var l [3]string
		if _, err := pgx.ForEachRow(rows, []any{&l[0], &l[1], &l[2]}, func() error { out.links = append(out.links, l); return nil }); err != nil {
			return fmt.Errorf("read identities: %w", err)
		}
		if rows, err = tx.Query(ctx, `SELECT site_id, user_id FROM known_users WHERE first_seen_at > $1`, since); err != nil {
			return fmt.Errorf("read known_users: %w", err)
		}
		var k [2]string
		if _, err := pgx.ForEachRow(rows, []any{&k[0], &k[1]}, func() error { out.known = append(out.known, k); return nil }); err != nil {
			return fmt.Errorf("read known_users: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// merge takes a read in, and returns the sites whose rows or links it
// touched (each with the user keys touched) for the streams.
func (v *view) merge(r *pgRead) map[string][]string {
	v.setCatalog(r.catalog)
	v.mu.Lock()
	defer v.mu.Unlock()
	touched := map[string][]string{}
	for _, x := range r.rows {
		v.site(x.site).setRow(x.user, x.promotion, x.row)
		touched[x.site] = append(touched[x.site], x.user)
	}
	for _, l := range r.links {
		v.site(l[0]).link(l[1], l[2])
		touched[l[0]] = append(touched[l[0]], l[1])
	}
	for _, k := range r.known {
		v.site(k[0]).known[k[1]] = true
	}
	return touched
}
