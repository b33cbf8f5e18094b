package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Request statuses.
const (
	StatusRunning = "running"
	StatusDone    = "done"
	StatusFailed  = "failed"
)

// Request is one row of forget_requests: a forget's audit record, which
// names the site but not the visitor.
type Request struct {
	ID          string     `json:"id"`
	Site        string     `json:"site"`
	Source      string     `json:"source"`
	Status      string     `json:"status"`
	Counts      []Count    `json:"counts"`
	Error       string     `json:"error,omitempty"`
	RequestedAt time.Time  `json:"requested_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
}

// errNoRequest is get's answer for an id it does not hold.
var errNoRequest = errors.New("no such forget request")

// requests is forget_requests.
type requests struct{ pool *pgxpool.Pool }

// start records a forget that begins now and returns its id.
func (r requests) start(ctx context.Context, site, source string) (string, error) {
	id := uuid.NewString()
	if _, err := r.pool.Exec(ctx, `INSERT INTO forget_requests (id, site_id, source, status) VALUES ($1, $2, $3, $4)`,
		id, site, source, StatusRunning); err != nil {
		return "", fmt.Errorf("record the forget request: %w", err)
	}
	return id, nil
}

// finish records how a forget ended.
func (r requests) finish(ctx context.Context, id string, counts []Count, ferr error) error {
	status, msg := StatusDone, ""
	if ferr != nil {
		status, msg = StatusFailed, ferr.Error()
	}
	if counts == nil {
		counts = []Count{}
	}
	b, err := json.Marshal(counts)
	if err != nil {
		return fmt.Errorf("encode counts: %w", err)
	}
	if _, err := r.pool.Exec(ctx, `UPDATE forget_requests SET status = $2, counts = $3, error = $4, finished_at = now() WHERE id = $1`,
		id, status, b, msg); err != nil {
		return fmt.Errorf("record the end of forget request %s: %w", id, err)
	}
	return nil
}

// get returns request id of site.
func (r requests) get(ctx context.Context, site, id string) (Request, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Request{}, errNoRequest
	}
	var q Request
	var counts []byte
	err := r.pool.QueryRow(ctx, `SELECT id::text, site_id, source, status, counts, error, requested_at, finished_at
		FROM forget_requests WHERE id = $1 AND site_id = $2`, id, site).
		Scan(&q.ID, &q.Site, &q.Source, &q.Status, &counts, &q.Error, &q.RequestedAt, &q.FinishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Request{}, errNoRequest
	}
	if err != nil {
		return Request{}, fmt.Errorf("read forget request %s: %w", id, err)
	}
	if err := json.Unmarshal(counts, &q.Counts); err != nil {
		return Request{}, fmt.Errorf("decode counts of forget request %s: %w", id, err)
	}
	return q, nil
}

// ForgetRecorded is Forget with its audit row in forget_requests (source
// "cli" or "api"); it returns the row's id.
func (f *Forgetter) ForgetRecorded(ctx context.Context, source, site, user string, progress Progress) (string, Result, error) {
	reqs := requests{f.d.Pool}
	id, err := reqs.start(ctx, site, source)
	if err != nil {
		return "", Result{}, err
	}
	res, ferr := f.Forget(ctx, site, user, progress)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return id, res, errors.Join(ferr, reqs.finish(wctx, id, res.Counts, ferr))
}
