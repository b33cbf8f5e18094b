package moderator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/reviews"
)

// A replay re-decides every decided review under the rule sets as they are
// now, after a rule change, and records each decision it changed in
// moderation_changes.
//
// It reads the reviews from PostgreSQL, not from the reviews topic:
// PostgreSQL holds every review for as long as the shop keeps it, while
// the topic's retention bounds what Kafka still has, and the moderator
// reads each review's text from PostgreSQL anyway. Reviews go in the order
// they were posted (created_at, then site and id), so when a review's
// per-author rules look back at the author's earlier reviews, those were
// already re-decided.
//
// It runs beside the live moderator: each review is re-decided in a
// transaction of its own that row-locks it first (FOR UPDATE) and skips it
// if it is still pending. The live moderator and its sweep only ever write
// reviews that are pending (their UPDATE says WHERE status = 'pending'),
// so the two never write the same review: a pending review is the live
// moderator's, which decides it under the current rules anyway.

// ReplayDeps are what a replay is given.
type ReplayDeps struct {
	Pool *pgxpool.Pool
	Log  *slog.Logger
	// Site limits the replay to one site; "" replays every site.
	Site string
	// ClassifierTimeout bounds one call of a site's classifier hook; a
	// failing hook is retried a few times, then the replay stops (run it
	// again: it starts over, and records only what changes).
	ClassifierTimeout time.Duration
	// Progress, if set, is called after each slice of reviews.
	Progress func(done, total int64)
	// Reg, if set, receives footfall_moderator_replay_changes_total.
	Reg prometheus.Registerer
}

// ReplayResult is what a replay did.
type ReplayResult struct {
	Reviews int64 // re-decided
	Changed int64 // whose status or rule changed
	Elapsed time.Duration
}

// replaySlice is how many reviews a replay reads at a time.
const replaySlice = 200

// Replay re-decides every decided review (of d.Site, or all).
func Replay(ctx context.Context, d ReplayDeps) (ReplayResult, error) {
	if d.ClassifierTimeout <= 0 {
		d.ClassifierTimeout = DefaultConfig().ClassifierTimeout
	}
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "footfall_moderator_replay_classifier_calls_total", Help: "Classifier hook calls made by replays, by outcome.",
	}, []string{"outcome"})
	changes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "footfall_moderator_replay_changes_total", Help: "Decisions a replay changed, by old and new status.",
	}, []string{"from", "to"})
	if d.Reg != nil {
		d.Reg.MustRegister(calls, changes)
	}
	dec := &decider{cls: newClassifier(d.ClassifierTimeout, calls)}
	log := d.Log.With("component", "moderation-replay")
	began := time.Now()
	var total int64
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM reviews WHERE status <> 'pending' AND ($1 = '' OR site_id = $1)`, d.Site).Scan(&total); err != nil {
		return ReplayResult{}, fmt.Errorf("count reviews: %w", err)
	}
	// The rule sets as they are when the replay starts: every review is
	// re-decided under the same version of its site's rules.
	rules := map[string]*Rules{}
	res := ReplayResult{}
	var last review // keyset position
	first := true
	for {
		rows, err := d.Pool.Query(ctx, `
			SELECT `+reviewColumns+` FROM reviews
			WHERE status <> 'pending' AND ($1 = '' OR site_id = $1)
			  AND ($2 OR (created_at, site_id, id) > ($3, $4, $5))
			ORDER BY created_at, site_id, id LIMIT $6`, d.Site, first, last.createdAt, last.site, last.id, replaySlice)
		if err != nil {
			return res, fmt.Errorf("read reviews: %w", err)
		}
		slice, err := pgx.CollectRows(rows, scanReview)
		if err != nil {
			return res, fmt.Errorf("read reviews: %w", err)
		}
		for _, r := range slice {
			rs := rules[r.site]
			if rs == nil {
				loaded, err := loadRules(ctx, d.Pool, []string{r.site})
				if err != nil {
					return res, err
				}
				rs = loaded[r.site]
				rules[r.site] = rs
			}
			change, err := replayOne(ctx, d.Pool, dec, rs, reviewKey{r.site, r.id}, log)
			if err != nil {
				return res, err
			}
			res.Reviews++
			if change != nil {
				res.Changed++
				changes.WithLabelValues(change.from, change.to).Inc()
			}
		}
		if d.Progress != nil {
			d.Progress(res.Reviews, max(total, res.Reviews))
		}
		if len(slice) < replaySlice {
			res.Elapsed = time.Since(began)
			return res, nil
		}
		last, first = slice[len(slice)-1], false
	}
}

// change is a decision a replay changed.
type change struct{ from, to string }

// replayOne re-decides one review in its own transaction, retrying a
// failing classifier a few times; it returns the change, if any.
func replayOne(ctx context.Context, pool *pgxpool.Pool, dec *decider, rs *Rules, k reviewKey, log *slog.Logger) (*change, error) {
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		var out *change
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			out, err = redecide(ctx, tx, dec, rs, k)
			return err
		})
		if err == nil || !errors.Is(err, errClassifier) || attempt == 5 {
			return out, err
		}
		log.Warn("classifier failed; retrying", "site", k.site, "review", k.id, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// redecide locks the review, re-decides it unless it is pending, and
// writes the new decision, recording it in moderation_changes when the
// status or the rule changed.
func redecide(ctx context.Context, tx pgx.Tx, dec *decider, rs *Rules, k reviewKey) (*change, error) {
	rows, err := tx.Query(ctx, `SELECT `+reviewColumns+` FROM reviews WHERE site_id = $1 AND id = $2 FOR UPDATE`, k.site, k.id)
	if err != nil {
		return nil, fmt.Errorf("lock review %s: %w", k.id, err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanReview)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil // deleted meanwhile (forgotten)
	}
	if err != nil {
		return nil, fmt.Errorf("lock review %s: %w", k.id, err)
	}
	if r.status == reviews.Pending {
		return nil, nil
	}
	d, err := dec.decide(ctx, tx, rs, r, nil)
	if err != nil {
		return nil, err
	}
	if d.Status == r.status && d.Rule == r.rule {
		_, err := tx.Exec(ctx, `UPDATE reviews SET rule_version = $3 WHERE site_id = $1 AND id = $2`, k.site, k.id, d.Version)
		if err != nil {
			return nil, fmt.Errorf("stamp review %s: %w", k.id, err)
		}
		return nil, nil
	}
	if _, err := tx.Exec(ctx, `
		UPDATE reviews SET status = $3, decided_by_rule = $4, reason = $5, rule_version = $6, decided_at = now()
		WHERE site_id = $1 AND id = $2`, k.site, k.id, d.Status, d.Rule, d.Reason, d.Version); err != nil {
		return nil, fmt.Errorf("save decision of review %s: %w", k.id, err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO moderation_changes (site_id, review_id, old_status, old_rule, old_version, new_status, new_rule, new_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, k.site, k.id, r.status, r.rule, r.version, d.Status, d.Rule, d.Version); err != nil {
		return nil, fmt.Errorf("record change of review %s: %w", k.id, err)
	}
	return &change{from: r.status, to: d.Status}, nil
}
