// Package server holds what every Footfall service exposes and how it runs
// an HTTP listener: /healthz, /readyz, /metrics and graceful shutdown.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one dependency is usable right now.
type Check func(ctx context.Context) error

// Degraded wraps what a Check found wrong that leaves the service ready:
// it works with a weaker promise or more slowly (the collector spools
// while Kafka is away), so load balancers keep sending it work, and
// /readyz says why.
func Degraded(err error) error { return degraded{err} }

type degraded struct{ err error }

func (d degraded) Error() string { return d.err.Error() }
func (d degraded) Unwrap() error { return d.err }

// Ops serves the operational endpoints of one service. Readiness is the
// conjunction of the open flag and every check (a check answering
// Degraded counts as passed, and is named in the body); draining closes
// the flag first so load balancers stop sending work before intake stops.
type Ops struct {
	reg      *prometheus.Registry
	open     atomic.Bool
	mu       sync.Mutex
	checks   map[string]Check
	deadline time.Duration
}

// NewRegistry returns a registry that already carries the Go runtime and
// process collectors: one per process, shared by its services.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// NewOps returns Ops with a registry of its own, for a service run alone
// (tests).
func NewOps() *Ops { return NewOpsOn(NewRegistry()) }

// NewOpsOn returns Ops whose metrics go to reg, the process's registry:
// each service keeps its own readiness, and /metrics on any service's port
// shows the whole process.
func NewOpsOn(reg *prometheus.Registry) *Ops {
	o := &Ops{reg: reg, checks: map[string]Check{}, deadline: 2 * time.Second}
	o.open.Store(true)
	return o
}

// Registry is where the service's packages register their metrics.
func (o *Ops) Registry() *prometheus.Registry { return o.reg }

// AddCheck makes readiness depend on c.
func (o *Ops) AddCheck(name string, c Check) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.checks[name] = c
}

// Drain turns readiness to 503 for good: the first step of shutdown.
func (o *Ops) Drain() { o.open.Store(false) }

// Handler serves /healthz, /readyz and /metrics.
func (o *Ops) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", o.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.reg, promhttp.HandlerOpts{Registry: o.reg}))
	return mux
}

func (o *Ops) serveReady(w http.ResponseWriter, r *http.Request) {
	if !o.open.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), o.deadline)
	defer cancel()
	o.mu.Lock()
	checks := make(map[string]Check, len(o.checks))
	for k, v := range o.checks {
		checks[k] = v
	}
	o.mu.Unlock()
	failed, notes := map[string]string{}, map[string]string{}
	for name, c := range checks {
		err := c(ctx)
		var d degraded
		switch {
		case err == nil:
		case errors.As(err, &d):
			notes[name] = err.Error()
		default:
			failed[name] = err.Error()
		}
	}
	switch {
	case len(failed) > 0:
		body := map[string]any{"status": "not ready", "failed": failed}
		if len(notes) > 0 {
			body["degraded"] = notes
		}
		writeJSON(w, http.StatusServiceUnavailable, body)
	case len(notes) > 0:
		writeJSON(w, http.StatusOK, map[string]any{"status": "degraded", "degraded": notes})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
