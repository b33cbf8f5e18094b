package moderator

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// reviewKey identifies one review.
type reviewKey struct{ site, id string }

const reviewColumns = `site_id, id, product_id, author_id, title, body, created_at, status, decided_by_rule, rule_version`

func scanReview(row pgx.CollectableRow) (review, error) {
	var r review
	err := row.Scan(&r.site, &r.id, &r.product, &r.author, &r.title, &r.body, &r.createdAt, &r.status, &r.rule, &r.version)
	return r, err
}

// loadReviews reads the reviews keys name; a key PostgreSQL does not hold
// is missing from the answer.
func loadReviews(ctx context.Context, q querier, keys []reviewKey) (map[reviewKey]review, error) {
	sites, ids := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		sites[i], ids[i] = k.site, k.id
	}
	rows, err := q.Query(ctx, `
		SELECT `+reviewColumns+` FROM reviews
		WHERE (site_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, sites, ids)
	if err != nil {
		return nil, fmt.Errorf("read reviews: %w", err)
	}
	all, err := pgx.CollectRows(rows, scanReview)
	if err != nil {
		return nil, fmt.Errorf("read reviews: %w", err)
	}
	out := make(map[reviewKey]review, len(all))
	for _, r := range all {
		out[reviewKey{r.site, r.id}] = r
	}
	return out, nil
}

// historyLimit bounds how many of an author's earlier reviews the rules
// look at: enough for any sane rate window, and for the repeated-text rule.
const historyLimit = 500

// history reads the author's reviews before r (by created_at, then id),
// newest first.
func history(ctx context.Context, q querier, r review) ([]earlier, error) {
	rows, err := q.Query(ctx, `
		SELECT id, body, created_at, status FROM reviews
		WHERE site_id = $1 AND author_id = $2 AND (created_at, id) < ($3, $4)
		ORDER BY created_at DESC, id DESC LIMIT $5`, r.site, r.author, r.createdAt, r.id, historyLimit)
	if err != nil {
		return nil, fmt.Errorf("read the author's earlier reviews: %w", err)
	}
	var out []earlier
	var e earlier
	if _, err := pgx.ForEachRow(rows, []any{&e.id, &e.body, &e.createdAt, &e.status}, func() error { out = append(out, e); return nil }); err != nil {
		return nil, fmt.Errorf("read the author's earlier reviews: %w", err)
	}
	return out, nil
}

// decided is one review's decision, to be written.
type decided struct {
	key reviewKey
	Decision
}

// saveDecisions writes decisions to reviews still pending, and returns
// those it wrote: a review the sweep (or another member in a rebalance)
// decided meanwhile keeps that decision.
func saveDecisions(ctx context.Context, q querier, ds []decided) (map[reviewKey]bool, error) {
	// Rows are taken in one order, so two writers cannot deadlock.
	slices.SortFunc(ds, func(a, b decided) int {
		return cmp.Or(strings.Compare(a.key.site, b.key.site), strings.Compare(a.key.id, b.key.id))
	})
	n := len(ds)
	sites, ids, statuses, rules, reasons, versions := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	for i, d := range ds {
		sites[i], ids[i], statuses[i], rules[i], reasons[i], versions[i] = d.key.site, d.key.id, d.Status, d.Rule, d.Reason, d.Version
	}
	rows, err := q.Query(ctx, `
		UPDATE reviews r SET status = d.status, decided_by_rule = d.rule, reason = d.reason, rule_version = d.version, decided_at = now()
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS d(site_id, id, status, rule, reason, version)
		WHERE r.site_id = d.site_id AND r.id = d.id AND r.status = 'pending'
		RETURNING r.site_id, r.id`, sites, ids, statuses, rules, reasons, versions)
	if err != nil {
		return nil, fmt.Errorf("save decisions: %w", err)
	}
	out := map[reviewKey]bool{}
	var k reviewKey
	if _, err := pgx.ForEachRow(rows, []any{&k.site, &k.id}, func() error { out[k] = true; return nil }); err != nil {
		return nil, fmt.Errorf("save decisions: %w", err)
	}
	return out, nil
}

// stalePending reads up to limit reviews pending for longer than after,
// oldest first: the ones whose Kafka record never came (or is far behind).
func stalePending(ctx context.Context, q querier, after time.Duration, limit int) ([]review, error) {
	rows, err := q.Query(ctx, `
		SELECT `+reviewColumns+` FROM reviews
		WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1)
		ORDER BY created_at, site_id, id LIMIT $2`, after.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("read stale pending reviews: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanReview)
	if err != nil {
		return nil, fmt.Errorf("read stale pending reviews: %w", err)
	}
	return out, nil
}
