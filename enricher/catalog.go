package enricher

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// promotion is the part of a catalog row the enricher matches against.
type promotion struct {
	ID       string
	URL      string
	Priority int
	Keywords [][]string // each keyword as terms
	page     page       // URL, parsed for matchClick
	hasPage  bool
}

// newPromotion is a catalog row as the enricher matches it.
func newPromotion(id, url string, priority int, words []string) promotion {
	p := promotion{ID: id, URL: url, Priority: priority}
	p.page, p.hasPage = pageOf(url)
	for _, w := range words {
		if t := terms(w); len(t) > 0 {
			p.Keywords = append(p.Keywords, t)
		}
	}
	return p
}

// catalog is every active promotion by site, reloaded when older than ttl.
// Catalogs are small (tens to thousands of rows), so one query serves all
// sites and matching is in memory.
type catalog struct {
	pool   *pgxpool.Pool
	ttl    time.Duration
	mu     sync.Mutex
	loaded time.Time
	sites  map[string][]promotion
}

func (c *catalog) get(ctx context.Context, now time.Time) (map[string][]promotion, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sites != nil && now.Sub(c.loaded) < c.ttl {
		return c.sites, nil
	}
	rows, err := c.pool.Query(ctx, `
		SELECT site_id, id, url, priority, keywords || categories FROM promotions
		WHERE (starts_at IS NULL OR starts_at <= now()) AND (ends_at IS NULL OR ends_at > now())`)
	if err != nil {
		return nil, fmt.Errorf("load promotions catalog: %w", err)
	}
	defer rows.Close()
	sites := map[string][]promotion{}
	for rows.Next() {
		var site, id, url string
		var priority int
		var words []string
		if err := rows.Scan(&site, &id, &url, &priority, &words); err != nil {
			return nil, fmt.Errorf("load promotions catalog: %w", err)
		}
		sites[site] = append(sites[site], newPromotion(id, url, priority, words))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load promotions catalog: %w", err)
	}
	c.sites, c.loaded = sites, now
	return sites, nil
}
