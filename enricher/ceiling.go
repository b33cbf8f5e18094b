package enricher

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
)

// Ceiling is the least the enricher's writes can cost: a batch's records
// decoded and matched as HandleBatch does them, and their upserts (scores,
// identity links, known users) sent as one bare pgx batch in a
// transaction, without offsets, their locks, dedup or anything else of
// the enricher's own. The enricher is measured against it
// (BenchmarkEnricherApplyBaseline, cmd/benchload).
type Ceiling struct {
	pool    *pgxpool.Pool
	cfg     Config
	catalog *catalog
}

// NewCeiling reads the promotions catalog from pool as an enricher with
// cfg does.
func NewCeiling(pool *pgxpool.Pool, cfg Config) *Ceiling {
	return &Ceiling{pool: pool, cfg: cfg, catalog: &catalog{pool: pool, ttl: cfg.CatalogRefresh}}
}

// Apply writes recs' upserts.
func (c *Ceiling) Apply(ctx context.Context, recs []kafka.Record) error {
	promos, err := c.catalog.get(ctx, time.Now())
	if err != nil {
		return err
	}
	scores, links, users := map[scoreKey]*score{}, map[link]bool{}, map[knownUser]bool{}
	for _, r := range recs {
		var ev event.Event
		if err := event.DecodeRecord(r.Value, &ev); err != nil {
			return err
		}
		if ev.UserVerified && ev.UserID != "" {
			users[knownUser{ev.SiteID, ev.UserID}] = true
			if ev.AnonymousID != "" {
				links[link{ev.SiteID, ev.AnonymousID, ev.UserID}] = true
			}
		}
		if ev.UserKey() != "" {
			interestOf(promos.of(ev.SiteID), &ev).addTo(scores, &ev)
		}
	}
	return pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		var batch pgx.Batch
		batch.Queue(fmt.Sprintf(upsertScores, liveTables.scores), scoresArgs(scores, c.cfg.ScoreTTL)...)
		batch.Queue(insertLinks, linksArgs(links)...)
		batch.Queue(insertKnownUsers, knownUsersArgs(users)...)
		return tx.SendBatch(ctx, &batch).Close()
	})
}
