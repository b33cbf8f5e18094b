package alerts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Delivery. Each deliverer takes the oldest due notification with FOR
// UPDATE SKIP LOCKED and holds that row lock while it POSTs, so two
// deliverers (of one worker or of several) never send one notification at
// the same time, and a crash mid-POST leaves it due for another. A 2xx
// marks it delivered; a network error, a timeout, 408, 429 or a 5xx
// schedules a retry after RetryInitial, doubled per attempt up to
// RetryMax, or after the Retry-After of a 429 or 503 if that is longer;
// another 4xx or a 3xx (the receiver refuses this body for
// good, or moved: redirects are not followed), or a
// notification older than DeliveryMaxAge, is given up. Every attempt
// carries the same body and Idempotency-Key, so a receiver that saw an
// attempt whose answer was lost can drop the next.

// outboxRow is one due notification.
type outboxRow struct {
	id        int64
	rule      int64
	key       string
	payload   []byte
	createdAt time.Time
	attempts  int
	url       string
}

// errNothingDue says the outbox has no notification due.
var errNothingDue = errors.New("no notification due")

// deliverLoop delivers due notifications until ctx ends: at once when
// woken, else every --alerts-delivery-poll.
func (a *Alerts) deliverLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.DeliveryPoll)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			// A delivery under way finishes as ctx ends (cut short, its
			// receiver could act on it without our knowing), within
			// twice the webhook timeout, the POST's and the database's.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*a.cfg.WebhookTimeout)
			err := a.deliverOne(dctx)
			cancel()
			if errors.Is(err, errNothingDue) {
				break
			}
			if err != nil {
				a.log.Warn("deliver alert notification", "err", err)
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-t.C:
		}
	}
}

// deliverOne sends the oldest due notification, if any, and records what
// came of it.
func (a *Alerts) deliverOne(ctx context.Context) error {
	return pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		var r outboxRow
		var payload string
		err := tx.QueryRow(ctx, `
			SELECT n.id, n.rule_id, n.idempotency_key, n.payload::text, n.created_at, n.attempts, r.webhook_url
			FROM alert_notifications n JOIN alert_rules r ON r.id = n.rule_id
			WHERE n.delivered_at IS NULL AND n.gave_up_at IS NULL AND n.next_attempt_at <= $1
			ORDER BY n.next_attempt_at, n.id
			LIMIT 1
			FOR UPDATE OF n SKIP LOCKED`, a.now()).Scan(&r.id, &r.rule, &r.key, &payload, &r.createdAt, &r.attempts, &r.url)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNothingDue
		}
		if err != nil {
			return fmt.Errorf("take a due notification: %w", err)
		}
		r.payload = []byte(payload)
		return a.attempt(ctx, tx, r)
	})
}

// attempt POSTs r unless it is too old, and records the outcome in tx.
func (a *Alerts) attempt(ctx context.Context, tx pgx.Tx, r outboxRow) error {
	now := a.now()
	if now.Sub(r.createdAt) >= a.cfg.DeliveryMaxAge {
		return a.giveUp(ctx, tx, r, "older than --alerts-delivery-max-age", now)
	}
	permanent, asked, sendErr := a.post(ctx, r)
	now = a.now()
	if sendErr == nil {
		if _, err := tx.Exec(ctx, `UPDATE alert_notifications SET delivered_at = $2, attempts = attempts + 1, last_error = '' WHERE id = $1`, r.id, now); err != nil {
			return fmt.Errorf("mark notification %d delivered: %w", r.id, err)
		}
		a.m.deliveries.WithLabelValues(outcomeOK).Inc()
		a.m.deliveryDelay.Observe(now.Sub(r.createdAt).Seconds())
		return nil
	}
	attempts := r.attempts + 1
	if permanent || now.Sub(r.createdAt) >= a.cfg.DeliveryMaxAge {
		return a.giveUp(ctx, tx, r, sendErr.Error(), now)
	}
	// A receiver's Retry-After, when longer than the backoff, is
	// honoured; the notification still gives up at DeliveryMaxAge.
	wait := max(retryAfter(a.cfg.RetryInitial, a.cfg.RetryMax, attempts), asked)
	if _, err := tx.Exec(ctx, `UPDATE alert_notifications SET attempts = $2, next_attempt_at = $3, last_error = $4 WHERE id = $1`,
		r.id, attempts, now.Add(wait), truncate(sendErr.Error(), sampleLimit)); err != nil {
		return fmt.Errorf("schedule retry of notification %d: %w", r.id, err)
	}
	a.m.deliveries.WithLabelValues(outcomeRetry).Inc()
	a.log.Warn("alert webhook failed; will retry", "rule", r.rule, "notification", r.id, "attempt", attempts, "in", wait, "err", sendErr)
	return nil
}

// giveUp records that r will not be sent.
func (a *Alerts) giveUp(ctx context.Context, tx pgx.Tx, r outboxRow, why string, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE alert_notifications SET gave_up_at = $2, last_error = $3 WHERE id = $1`, r.id, now, truncate(why, sampleLimit)); err != nil {
		return fmt.Errorf("give up notification %d: %w", r.id, err)
	}
	a.m.deliveries.WithLabelValues(outcomeGaveUp).Inc()
	a.log.Error("gave up an alert notification", "rule", r.rule, "notification", r.id, "attempts", r.attempts, "err", why)
	return nil
}

// retryAfter is the wait before attempt+1: initial, doubled per attempt,
// at most ceiling.
func retryAfter(initial, ceiling time.Duration, attempt int) time.Duration {
	wait := initial
	for i := 1; i < attempt && wait < ceiling; i++ {
		wait *= 2
	}
	return min(wait, ceiling)
}

// post sends r once. permanent is true for an answer that retrying
// cannot change; asked is how long the receiver asked to be left alone
// (Retry-After on a 429 or 503). Errors name the webhook's host only: a
// webhook URL often holds a secret in its path (Slack's do).
func (a *Alerts) post(ctx context.Context, r outboxRow) (permanent bool, asked time.Duration, err error) {
	host := "?"
	if u, perr := url.Parse(r.url); perr == nil {
		host = u.Host
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(r.payload))
	if err != nil {
		return true, 0, fmt.Errorf("webhook of rule %d: %w", r.rule, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "footfall-alerts")
	req.Header.Set("Idempotency-Key", r.key)
	start := time.Now()
	resp, err := a.client.Do(req)
	a.m.requestTime.Observe(time.Since(start).Seconds())
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return false, 0, fmt.Errorf("POST to %s: %w", host, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // let the connection be reused
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, 0, nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			asked = retryAfterHeader(resp.Header.Get("Retry-After"), a.now())
		}
		return false, asked, fmt.Errorf("POST to %s: %s: %s", host, resp.Status, bytes.TrimSpace(snippet))
	default:
		return true, 0, fmt.Errorf("POST to %s: %s: %s", host, resp.Status, bytes.TrimSpace(snippet))
	}
}

// retryAfterCeiling is the most seconds of a Retry-After believed: past
// a day, the notification would be given up first anyway.
const retryAfterCeiling = 24 * 60 * 60

// retryAfterHeader reads a Retry-After header (RFC 9110, 10.2.3): a
// number of seconds or an HTTP date. It is 0 when absent, unreadable or
// past.
func retryAfterHeader(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(min(max(s, 0), retryAfterCeiling)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), retryAfterCeiling*time.Second)
	}
	return 0
}
