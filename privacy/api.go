package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/server"
)

// maxUserID bounds a user id, as the envelope's ids are bounded.
const maxUserID = 256

// maxBody bounds a request body: it holds one user id.
const maxBody = 4 << 10

// API serves the forget API: POST /v1/forget answers 202 at once and the
// forget runs in the background, one at a time; GET /v1/forget/{id} says
// how it went. Every route takes a site's server key.
type API struct {
	cfg      Config
	forget   *Forgetter
	requests requests
	log      *slog.Logger
	m        *metrics
	jobs     chan job
	mux      *http.ServeMux
}

// job is an accepted forget waiting to run.
type job struct{ id, site, user string }

// APIDeps are what the API is given.
type APIDeps struct {
	Forgetter *Forgetter
	Pool      *pgxpool.Pool
	Ops       *server.Ops
	Log       *slog.Logger
}

// NewAPI builds the API; Run works through its forgets.
func NewAPI(cfg Config, d APIDeps) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &API{
		cfg: cfg, forget: d.Forgetter, requests: requests{d.Pool}, log: d.Log,
		m: newMetrics(d.Ops.Registry()), jobs: make(chan job, cfg.Queue), mux: http.NewServeMux(),
	}
	a.mux.HandleFunc("POST /v1/forget", a.route("forget", a.serveForget))
	a.mux.HandleFunc("GET /v1/forget/{id}", a.route("status", a.serveStatus))
	a.mux.HandleFunc("POST /v1/forget/lift", a.route("lift", a.serveLift))
	a.mux.HandleFunc("DELETE /v1/forget", a.route("lift", a.serveLift))
	return a, nil
}

// Handler serves the routes.
func (a *API) Handler() http.Handler { return a.mux }

// Run runs accepted forgets one after another until ctx ends. Forgets are
// heavy (mutations of whole ClickHouse tables) and rare: one at a time
// keeps them from competing. Those still queued when ctx ends are marked
// failed, to be asked for again.
func (a *API) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case j := <-a.jobs:
					a.finish(j, nil, errors.New("the privacy service stopped before this forget ran; ask again"))
				default:
					return nil
				}
			}
		case j := <-a.jobs:
			res, err := a.forget.Forget(ctx, j.site, j.user, nil)
			a.finish(j, res.Counts, err)
		}
	}
}

func (a *API) finish(j job, counts []Count, err error) {
	result := StatusDone
	if err != nil {
		result = StatusFailed
		a.log.Error("forget failed", "request", j.id, "site", j.site, "err", err)
	}
	a.m.forgets.WithLabelValues(result).Inc()
	for _, c := range counts {
		if c.Unit == UnitRows {
			a.m.deleted.WithLabelValues(c.Store, c.Table).Add(float64(c.Rows))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ferr := a.requests.finish(ctx, j.id, counts, err); ferr != nil {
		a.log.Error("record the end of a forget", "request", j.id, "err", ferr)
	}
}

// answer is an error's body.
type answer struct {
	Error  string `json:"error"`
	Detail string `json:"detail,omitempty"`
}

// handler is a route's handler once the request's server key named site.
type handler func(w http.ResponseWriter, r *http.Request, site string) (int, any)

// route authenticates, runs h, and writes and counts its answer.
func (a *API) route(name string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		code, body := a.authenticated(w, r, h)
		a.m.requests.WithLabelValues(name, strconv.Itoa(code)).Inc()
		if e, ok := body.(answer); ok {
			a.m.rejected.WithLabelValues(e.Error).Inc()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body) // the client went away: nothing to do
	}
}

func (a *API) authenticated(w http.ResponseWriter, r *http.Request, h handler) (int, any) {
	key, _, ok := r.BasicAuth()
	if !ok || key == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="footfall"`)
		return http.StatusUnauthorized, answer{"unauthorized", "send a site's server key as the HTTP Basic user name, with an empty password"}
	}
	site, ok := a.cfg.ServerKeys.SiteOf(key)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="footfall"`)
		return http.StatusUnauthorized, answer{"unknown_key", "the key is no site's server key"}
	}
	return h(w, r, site)
}

// subject is the body of POST /v1/forget and /v1/forget/lift.
type subject struct {
	UserID string `json:"user_id"`
}

// userID reads the user id from the body, or the query's user_id.
func userID(r *http.Request) (string, *answer) {
	id := r.URL.Query().Get("user_id")
	if r.Method != http.MethodDelete {
		var s subject
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return "", &answer{"bad_json", `the body must be {"user_id": "..."}: ` + err.Error()}
		}
		id = s.UserID
	}
	switch {
	case id == "":
		return "", &answer{"missing_user_id", "user_id is required"}
	case len(id) > maxUserID:
		return "", &answer{"user_id_too_long", "user_id is longer than " + strconv.Itoa(maxUserID) + " bytes"}
	}
	return id, nil
}

// accepted is POST /v1/forget's answer.
type accepted struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	URL    string `json:"status_url"`
}

func (a *API) serveForget(w http.ResponseWriter, r *http.Request, site string) (int, any) {
	user, bad := userID(r)
	if bad != nil {
		return http.StatusBadRequest, *bad
	}
	id, err := a.requests.start(r.Context(), site, "api")
	if err != nil {
		a.log.Error("forget request", "err", err)
		return http.StatusServiceUnavailable, answer{"unavailable", "the request could not be recorded; try again"}
	}
	select {
	case a.jobs <- job{id: id, site: site, user: user}:
	default:
		a.finish(job{id: id, site: site}, nil, errors.New("too many forgets waiting"))
		w.Header().Set("Retry-After", "60")
		return http.StatusServiceUnavailable, answer{"queue_full", "too many forgets are waiting; try again later"}
	}
	w.Header().Set("Location", "/v1/forget/"+id)
	return http.StatusAccepted, accepted{ID: id, Status: StatusRunning, URL: "/v1/forget/" + id}
}

func (a *API) serveStatus(_ http.ResponseWriter, r *http.Request, site string) (int, any) {
	q, err := a.requests.get(r.Context(), site, r.PathValue("id"))
	if errors.Is(err, errNoRequest) {
		return http.StatusNotFound, answer{"not_found", "no forget request of this site has that id"}
	}
	if err != nil {
		a.log.Error("read forget request", "err", err)
		return http.StatusServiceUnavailable, answer{"unavailable", "try again"}
	}
	return http.StatusOK, q
}

// lifted is the lift's answer.
type lifted struct {
	Lifted int `json:"lifted"`
}

func (a *API) serveLift(_ http.ResponseWriter, r *http.Request, site string) (int, any) {
	user, bad := userID(r)
	if bad != nil {
		return http.StatusBadRequest, *bad
	}
	n, err := a.forget.Lift(r.Context(), site, user)
	if err != nil {
		a.log.Error("lift", "err", err)
		return http.StatusServiceUnavailable, answer{"unavailable", "the lift could not be published; try again"}
	}
	a.m.lifted.Add(float64(n))
	return http.StatusOK, lifted{Lifted: n}
}
