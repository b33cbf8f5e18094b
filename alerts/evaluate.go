package alerts

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/pgoffsets"
)

// windowKey is one rule's window.
type windowKey struct {
	rule  int64
	start int64 // unix ms
}

// tally is what a batch adds to one window.
type tally struct {
	rule          *rule
	win           window
	count         int64
	sampleService string
	sampleBody    string
}

// evaluation is what a batch did, counted once its transaction commits.
type evaluation struct {
	evaluated, matched int64
	skipped            map[string]int
	fired              []notice // notifications written
	stale              int
}

// HandleBatch counts a batch's matching records into their windows and
// writes the firing notifications they cause, with the batch's offsets,
// in one transaction. A value PostgreSQL refuses is permanent (the group
// dead-letters the record at fault); anything else is retried.
func (a *Alerts) HandleBatch(ctx context.Context, recs []kafka.Record) error {
	rs, err := a.rules.get(ctx)
	if err != nil {
		return err
	}
	var ev evaluation
	err = pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) (err error) {
		ev, err = a.evaluate(ctx, tx, rs, recs)
		return err
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22") { // data exception: the same values fail again
		return kafka.Permanent(err)
	}
	if err != nil {
		return err
	}
	a.m.evaluated.Add(float64(ev.evaluated))
	a.m.matched.Add(float64(ev.matched))
	for reason, n := range ev.skipped {
		a.m.skipped.WithLabelValues(reason).Add(float64(n))
	}
	a.m.suppressed.WithLabelValues("stale").Add(float64(ev.stale))
	for _, n := range ev.fired {
		a.log.Info("alert firing", "rule", n.rule.ID, "name", n.rule.Name, "site", n.rule.SiteID,
			"window_start", n.win.start, "count", n.count, "threshold", n.rule.Threshold)
	}
	if len(ev.fired) > 0 {
		a.m.written.WithLabelValues(StatusFiring).Add(float64(len(ev.fired)))
		a.notify()
	}
	return nil
}

func (a *Alerts) evaluate(ctx context.Context, tx pgx.Tx, rs *ruleSet, recs []kafka.Record) (evaluation, error) {
	ev := evaluation{skipped: map[string]int{}}
	parts := pgoffsets.Partitions(recs)
	if len(parts) == 0 {
		return ev, nil
	}
	stored, err := pgoffsets.Lock(ctx, tx, a.cfg.Group, parts)
	if err != nil {
		return ev, err
	}
	next := map[pgoffsets.Partition]int64{}
	tallies := map[windowKey]*tally{}
	for _, r := range recs {
		k := pgoffsets.Partition{Topic: r.Topic, Partition: r.Partition}
		if r.Offset < stored[k] {
			ev.skipped["already_applied"]++
			continue
		}
		next[k] = max(next[k], r.Offset+1)
		var rec event.LogRecord
		if err := json.Unmarshal(r.Value, &rec); err != nil || rec.SiteID == "" || rec.Time <= 0 {
			// The loader dead-letters such a record already; a second
			// copy on <prefix>.dead would only confuse.
			ev.skipped["malformed"]++
			continue
		}
		if rec.V != event.LogRecordVersion {
			ev.skipped["unsupported_version"]++
			continue
		}
		ev.evaluated++
		at := time.UnixMilli(rec.Time)
		for _, ru := range rs.forRecord(&rec) {
			ev.matched++
			w := windowOf(at, ru.Window)
			wk := windowKey{ru.ID, w.start.UnixMilli()}
			t := tallies[wk]
			if t == nil {
				t = &tally{rule: ru, win: w, sampleService: storable(rec.Service), sampleBody: storable(truncate(rec.Body, sampleLimit))}
				tallies[wk] = t
			}
			t.count++
		}
	}
	if len(next) == 0 {
		return ev, nil
	}
	if len(tallies) > 0 {
		if err := a.count(ctx, tx, tallies, &ev); err != nil {
			return ev, err
		}
	}
	return ev, pgoffsets.Save(ctx, tx, a.cfg.Group, next)
}

// count adds tallies to alert_windows and fires each window that reaches
// its rule's threshold and has not fired yet. Rows go in key order, so
// two members adding to the same windows cannot deadlock on them.
func (a *Alerts) count(ctx context.Context, tx pgx.Tx, tallies map[windowKey]*tally, ev *evaluation) error {
	keys := make([]windowKey, 0, len(tallies))
	for k := range tallies {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y windowKey) int { return cmp.Or(cmp.Compare(x.rule, y.rule), cmp.Compare(x.start, y.start)) })
	n := len(keys)
	ids, starts, ends := make([]int64, 0, n), make([]time.Time, 0, n), make([]time.Time, 0, n)
	counts, services, bodies := make([]int64, 0, n), make([]string, 0, n), make([]string, 0, n)
	for _, k := range keys {
		t := tallies[k]
		ids, starts, ends = append(ids, t.rule.ID), append(starts, t.win.start), append(ends, t.win.end)
		counts, services, bodies = append(counts, t.count), append(services, t.sampleService), append(bodies, t.sampleBody)
	}
	// The join drops the counts of a rule deleted since the rules were
	// read, rather than failing the batch on the foreign key.
	rows, err := tx.Query(ctx, `
		INSERT INTO alert_windows AS w (rule_id, window_start, window_end, count, sample_service, sample_body)
		SELECT u.rule_id, u.window_start, u.window_end, u.count, u.sample_service, u.sample_body
		FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::bigint[], $5::text[], $6::text[])
		  WITH ORDINALITY AS u(rule_id, window_start, window_end, count, sample_service, sample_body, n)
		JOIN alert_rules r ON r.id = u.rule_id
		ORDER BY u.n
		ON CONFLICT (rule_id, window_start, window_end) DO UPDATE SET
		  count = w.count + EXCLUDED.count, updated_at = now()
		RETURNING rule_id, window_start, count, fired_at IS NOT NULL, sample_service, sample_body`,
		ids, starts, ends, counts, services, bodies)
	if err != nil {
		return fmt.Errorf("count alert_windows: %w", err)
	}
	type due struct {
		t             *tally
		count         int64
		service, body string
	}
	var fire []due
	var id, total int64
	var start time.Time
	var fired bool
	var service, body string
	_, err = pgx.ForEachRow(rows, []any{&id, &start, &total, &fired, &service, &body}, func() error {
		t := tallies[windowKey{id, start.UnixMilli()}]
		if t == nil || fired || total < t.rule.Threshold {
			return nil
		}
		if t.win.end.Add(a.cfg.MaxLag).Before(a.now()) {
			ev.stale++
			return nil
		}
		fire = append(fire, due{t, total, service, body})
		return nil
	})
	if err != nil {
		return fmt.Errorf("count alert_windows: %w", err)
	}
	for _, d := range fire {
		n := notice{rule: d.t.rule, status: StatusFiring, win: d.t.win, count: d.count, sampleService: d.service, sampleBody: d.body}
		ok, err := a.fire(ctx, tx, n)
		if err != nil {
			return err
		}
		if ok {
			ev.fired = append(ev.fired, n)
		}
	}
	return nil
}

// fire marks n's window fired, continues the run of firing windows the
// window before it ended (or starts one), and writes the firing
// notification; false if the outbox already had it.
func (a *Alerts) fire(ctx context.Context, tx pgx.Tx, n notice) (bool, error) {
	now := a.now()
	err := tx.QueryRow(ctx, `
		WITH prev AS (
		  UPDATE alert_windows SET episode_open = false
		  WHERE rule_id = $1 AND window_start = $2::timestamptz - ($3::timestamptz - $2::timestamptz) AND window_end = $2 AND episode_open
		  RETURNING episode_start)
		UPDATE alert_windows SET fired_at = $4, episode_open = true,
		  episode_start = COALESCE((SELECT episode_start FROM prev), $2)
		WHERE rule_id = $1 AND window_start = $2 AND window_end = $3
		RETURNING episode_start`, n.rule.ID, n.win.start, n.win.end, now).Scan(&n.episodeStart)
	if err != nil {
		return false, fmt.Errorf("fire alert rule %d: %w", n.rule.ID, err)
	}
	return a.writeNotice(ctx, tx, n, now)
}

// writeNotice adds n to the outbox, due now; false if it was there.
func (a *Alerts) writeNotice(ctx context.Context, tx pgx.Tx, n notice, now time.Time) (bool, error) {
	body, err := n.payload()
	if err != nil {
		return false, err
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO alert_notifications (rule_id, window_start, window_end, status, count, idempotency_key, payload, created_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		ON CONFLICT (rule_id, window_start, window_end, status) DO NOTHING`,
		n.rule.ID, n.win.start, n.win.end, n.status, n.count, n.idempotencyKey(), string(body), now)
	if err != nil {
		return false, fmt.Errorf("write %s notification of alert rule %d: %w", n.status, n.rule.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// storable is s as PostgreSQL's text takes it: a log line may hold NUL
// bytes, which text refuses, and refusing the sample would hold up the
// count.
func storable(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}
