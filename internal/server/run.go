package server

import (
	"net/http"
	"net/http/pprof"
)

// Mux serves a service's own handler (nil for a worker) beside the
// operational endpoints, and net/http/pprof under /debug/pprof/ when
// withPprof is set: a profile is then one curl away.
func Mux(ops *Ops, h http.Handler, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	oh := ops.Handler()
	mux.Handle("GET /healthz", oh)
	mux.Handle("GET /readyz", oh)
	mux.Handle("GET /metrics", oh)
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	if h != nil {
		mux.Handle("/", h)
	}
	return mux
}
