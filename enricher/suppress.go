package enricher

import (
	"context"

	"github.com/footfall/footfall/internal/event"
)

// Suppressor says whether a visitor was forgotten (privacy.Suppressions,
// docs/privacy.md): the enricher scores and links none of their later
// events, live or in a replay. Current holds a batch until the set has
// read every suppression published before it.
type Suppressor interface {
	Current(ctx context.Context) error
	Suppressed(site, anonymousID, userID string) bool
}

// waitSuppressions holds a batch until the set has read every suppression
// published before it.
func (e *Enricher) waitSuppressions(ctx context.Context) error {
	if e.suppress == nil {
		return nil
	}
	return e.suppress.Current(ctx)
}

// suppressed reports, and counts, an event of a forgotten visitor. Its
// offset still moves on with the batch's.
func (e *Enricher) suppressed(ev *event.Event) bool {
	if e.suppress == nil || !e.suppress.Suppressed(ev.SiteID, ev.AnonymousID, ev.UserID) {
		return false
	}
	e.m.skipped.WithLabelValues("suppressed").Inc()
	return true
}
