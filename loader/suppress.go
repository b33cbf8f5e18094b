package loader

import (
	"context"

	"github.com/footfall/footfall/internal/event"
)

// Suppressor says whether a visitor was forgotten (privacy.Suppressions,
// docs/privacy.md): the loader writes none of their later events. Wait
// holds a rebuild until the set has read its topic; Current holds a batch
// until the set has read every suppression published before it, so that
// nothing is written on the strength of a set that lags.
type Suppressor interface {
	Wait(ctx context.Context) error
	Current(ctx context.Context) error
	Suppressed(site, anonymousID, userID string) bool
}

// dropSuppressed removes the events of forgotten visitors from events,
// keeping from (where each came from in the batch) in step, and counts
// them.
func (l *Loader) dropSuppressed(ctx context.Context, events []*event.Event, from []int) ([]*event.Event, []int, error) {
	if l.suppress == nil {
		return events, from, nil
	}
	if err := l.suppress.Current(ctx); err != nil {
		return nil, nil, err
	}
	kept, keptFrom := events[:0], from[:0]
	for i, e := range events {
		if l.suppress.Suppressed(e.SiteID, e.AnonymousID, e.UserID) {
			l.m.skipped.WithLabelValues("suppressed").Inc()
			continue
		}
		kept, keptFrom = append(kept, e), append(keptFrom, from[i])
	}
	return kept, keptFrom, nil
}
