package alerts

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Resolution. A rule fires once per window that reaches its threshold:
// a rule that keeps firing sends one notification per window, all with
// the same labels, fingerprint and startsAt (the start of the run), as
// Alertmanager repeats a firing alert. When the window after the last
// one that fired has ended (plus --alerts-lateness, by the wall clock)
// without firing, one resolved notification ends the run.

// openRun is the last fired window of a run not yet resolved, with the
// rule it belongs to and the window after it.
type openRun struct {
	rule         rule
	win          window
	episodeStart time.Time
	nextCount    int64
	nextFired    bool
}

// resolveLoop resolves quiet rules every --alerts-resolve-interval.
func (a *Alerts) resolveLoop(ctx context.Context) {
	every(ctx, a.cfg.ResolveInterval, func() {
		n, err := a.resolve(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("resolve alert rules", "err", err)
			}
			return
		}
		a.m.resolveRuns.Inc()
		if n > 0 {
			a.m.written.WithLabelValues(StatusResolved).Add(float64(n))
			a.notify()
		}
	})
}

// resolve closes every run whose following window is settled (open runs
// are few: one per rule firing now, read through a partial index), writing a
// resolved notification for those that went quiet, and returns how many
// it wrote. A run whose following window fired too (its records came
// late) is closed without one: that window carries the run on.
func (a *Alerts) resolve(ctx context.Context) (int, error) {
	now := a.now()
	rows, err := a.pool.Query(ctx, `
		SELECT r.id, r.site_id, r.name, r.service, r.min_severity, r.body_match, r.threshold,
		       w.window_start, w.window_end, w.episode_start,
		       COALESCE(n.count, 0), n.fired_at IS NOT NULL
		FROM alert_windows w
		JOIN alert_rules r ON r.id = w.rule_id
		LEFT JOIN alert_windows n ON n.rule_id = w.rule_id AND n.window_start = w.window_end
		  AND n.window_end = w.window_end + (w.window_end - w.window_start)
		WHERE w.episode_open
		ORDER BY w.window_end`)
	if err != nil {
		return 0, fmt.Errorf("find fired alert windows: %w", err)
	}
	var runs []openRun
	var o openRun
	var sev int16
	_, err = pgx.ForEachRow(rows, []any{&o.rule.ID, &o.rule.SiteID, &o.rule.Name, &o.rule.Service, &sev, &o.rule.BodyMatch, &o.rule.Threshold,
		&o.win.start, &o.win.end, &o.episodeStart, &o.nextCount, &o.nextFired}, func() error {
		o.rule.MinSeverity = uint8(sev)
		o.rule.Window = o.win.end.Sub(o.win.start)
		if o.win.next().settled(now, a.cfg.Lateness) {
			runs = append(runs, o)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("find fired alert windows: %w", err)
	}
	written := 0
	for _, run := range runs {
		ok, err := a.close(ctx, run, now)
		if err != nil {
			return written, err
		}
		if ok {
			written++
			a.log.Info("alert resolved", "rule", run.rule.ID, "name", run.rule.Name, "site", run.rule.SiteID,
				"run_start", run.episodeStart, "last_window_end", run.win.end, "quiet_count", run.nextCount)
		}
	}
	return written, nil
}

// close ends run and writes its resolved notification, if it is still
// open once its window's row is locked: a batch firing the next window at
// the same moment holds that lock and closes the run itself.
func (a *Alerts) close(ctx context.Context, run openRun, now time.Time) (bool, error) {
	wrote := false
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE alert_windows SET episode_open = false, updated_at = now()
			WHERE rule_id = $1 AND window_start = $2 AND window_end = $3 AND episode_open`,
			run.rule.ID, run.win.start, run.win.end)
		if err != nil {
			return fmt.Errorf("close alert run of rule %d: %w", run.rule.ID, err)
		}
		if tag.RowsAffected() == 0 || run.nextFired {
			return nil
		}
		n := notice{rule: &run.rule, status: StatusResolved, win: run.win, count: run.nextCount, episodeStart: run.episodeStart}
		wrote, err = a.writeNotice(ctx, tx, n, now)
		return err
	})
	return wrote, err
}
