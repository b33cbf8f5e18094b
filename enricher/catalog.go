package enricher

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// promotion is the part of a catalog row the enricher matches against.
type promotion struct {
	ID         string
	URL        string
	Priority   int
	Keywords   [][]string // each keyword as terms
	Categories []string
	page       page // URL, parsed for matchClick
	hasPage    bool
}

// newPromotion is a catalog row as the enricher matches it. Its
// categories are keywords too: a search for "home climate" finds them.
func newPromotion(id, url string, priority int, keywords, categories []string) promotion {
	p := promotion{ID: id, URL: url, Priority: priority, Categories: categories}
	p.page, p.hasPage = pageOf(url)
	for _, w := range append(keywords[:len(keywords):len(keywords)], categories...) {
		if t := terms(w); len(t) > 0 {
			p.Keywords = append(p.Keywords, t)
		}
	}
	return p
}

// rules are a site's rule set (rule_sets, migration 0004).
type rules struct {
	version                               int64
	searchWeight, clickWeight, viewWeight float64
	halfLife                              float64 // seconds
	maxScore                              float64
}

// synonym is one synonyms row: a search containing one of phrases counts
// as a search for term.
type synonym struct {
	term    []string
	phrases [][]string
}

// productPage is one product_categories row.
type productPage struct {
	page       page
	categories []string
}

// site is what the enricher matches one site's events against.
type site struct {
	promos   []promotion
	synonyms []synonym
	pages    []productPage
	rules    rules
}

// sites is every site's catalog and rules. A site without promotions of
// its own matches nothing, under the default rules.
type sites struct {
	bySite   map[string]*site
	fallback *site
}

func (s sites) of(id string) *site {
	if st := s.bySite[id]; st != nil {
		return st
	}
	return s.fallback
}

// catalog is every active promotion and every rule by site, reloaded when
// older than ttl. Catalogs and rules are small (tens to thousands of
// rows), so one read serves all sites and matching is in memory.
type catalog struct {
	pool   *pgxpool.Pool
	ttl    time.Duration
	mu     sync.Mutex
	loaded time.Time
	sites  sites
}

func (c *catalog) get(ctx context.Context, now time.Time) (sites, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sites.bySite != nil && now.Sub(c.loaded) < c.ttl {
		return c.sites, nil
	}
	s, err := loadSites(ctx, c.pool)
	if err != nil {
		return sites{}, err
	}
	c.sites, c.loaded = s, now
	return s, nil
}

// loadSites reads the catalog and the rules in one snapshot, so a rule
// set's version describes the synonyms and pages read with it.
func loadSites(ctx context.Context, pool *pgxpool.Pool) (sites, error) {
	out := sites{bySite: map[string]*site{}, fallback: &site{}}
	byRules := map[string]rules{}
	get := func(id string) *site {
		s := out.bySite[id]
		if s == nil {
			s = &site{}
			out.bySite[id] = s
		}
		return s
	}
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT site_id, version, search_weight, click_weight, view_weight, half_life_seconds, max_score FROM rule_sets`)
		if err != nil {
			return fmt.Errorf("read rule_sets: %w", err)
		}
		var id string
		var r rules
		if _, err := pgx.ForEachRow(rows, []any{&id, &r.version, &r.searchWeight, &r.clickWeight, &r.viewWeight, &r.halfLife, &r.maxScore}, func() error {
			byRules[id] = r
			return nil
		}); err != nil {
			return fmt.Errorf("read rule_sets: %w", err)
		}
		def, ok := byRules[""]
		if !ok {
			return fmt.Errorf("read rule_sets: the default rule set (site_id '') is missing")
		}
		out.fallback.rules = def

		rows, err = tx.Query(ctx, `
			SELECT site_id, id, url, priority, keywords, categories FROM promotions
			WHERE (starts_at IS NULL OR starts_at <= now()) AND (ends_at IS NULL OR ends_at > now())`)
		if err != nil {
			return fmt.Errorf("load promotions catalog: %w", err)
		}
		var pid, url string
		var priority int
		var keywords, categories []string
		if _, err := pgx.ForEachRow(rows, []any{&id, &pid, &url, &priority, &keywords, &categories}, func() error {
			s := get(id)
			s.promos = append(s.promos, newPromotion(pid, url, priority, keywords, categories))
			return nil
		}); err != nil {
			return fmt.Errorf("load promotions catalog: %w", err)
		}

		if rows, err = tx.Query(ctx, `SELECT site_id, term, synonyms FROM synonyms`); err != nil {
			return fmt.Errorf("read synonyms: %w", err)
		}
		var term string
		var phrases []string
		if _, err := pgx.ForEachRow(rows, []any{&id, &term, &phrases}, func() error {
			syn := synonym{term: terms(term)}
			for _, p := range phrases {
				if t := terms(p); len(t) > 0 {
					syn.phrases = append(syn.phrases, t)
				}
			}
			if len(syn.term) > 0 && len(syn.phrases) > 0 {
				get(id).synonyms = append(get(id).synonyms, syn)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("read synonyms: %w", err)
		}

		if rows, err = tx.Query(ctx, `SELECT site_id, page, categories FROM product_categories`); err != nil {
			return fmt.Errorf("read product_categories: %w", err)
		}
		var pageURL string
		if _, err := pgx.ForEachRow(rows, []any{&id, &pageURL, &categories}, func() error {
			if p, ok := pageOf(pageURL); ok && len(categories) > 0 {
				get(id).pages = append(get(id).pages, productPage{page: p, categories: categories})
			}
			return nil
		}); err != nil {
			return fmt.Errorf("read product_categories: %w", err)
		}
		return nil
	})
	if err != nil {
		return sites{}, err
	}
	for id, s := range out.bySite {
		s.rules = out.fallback.rules
		if r, ok := byRules[id]; ok {
			s.rules = r
		}
	}
	return out, nil
}
