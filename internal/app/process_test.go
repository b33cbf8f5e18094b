package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// journal records what happened, in order, across goroutines.
type journal struct {
	mu    sync.Mutex
	steps []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.steps = append(j.steps, s)
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.steps)
}

// fakeService runs until its context ends, then notes what it saw: whether
// its readiness had already turned 503, and whether its listener still
// answered (it must: metrics last).
type fakeService struct {
	name   string
	j      *journal
	addr   func() string
	handle http.Handler
	fail   error         // returned at once from Run, if set
	hold   chan struct{} // Run waits for it after ctx ends, if set
}

func (s *fakeService) Run(ctx context.Context) error {
	if s.fail != nil {
		return s.fail
	}
	<-ctx.Done()
	res, err := http.Get("http://" + s.addr() + "/readyz")
	if err != nil {
		s.j.add(s.name + ": listener gone while flushing")
	} else {
		res.Body.Close()
		s.j.add(fmt.Sprintf("%s: flushed with readiness %d", s.name, res.StatusCode))
	}
	if s.hold != nil {
		<-s.hold
	}
	return nil
}

type fakeHTTPService struct{ *fakeService }

func (s fakeHTTPService) Handler() http.Handler { return s.handle }

// rig runs a Process of fake modules.
type rig struct {
	t     *testing.T
	p     *Process
	j     *journal
	mu    sync.Mutex
	addrs map[string]string
	done  chan error
	stop  context.CancelFunc
}

func newRig(t *testing.T, args []string, svcs ...*fakeService) *rig {
	t.Helper()
	r := &rig{t: t, j: &journal{}, addrs: map[string]string{}}
	var mods []Module
	for i, s := range svcs {
		s.j = r.j
		s.addr = func() string { return r.addr(s.name) }
		mods = append(mods, Module{Name: s.name, Port: 18000 + i, Setup: func(*flag.FlagSet) Builder {
			return func(d *Deps) (Service, error) {
				d.Ops.AddCheck("fake", func(context.Context) error { return nil })
				if s.handle != nil {
					return fakeHTTPService{s}, nil
				}
				return s, nil
			}
		}})
	}
	r.p = New(mods...)
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	r.p.RegisterFlags(fs)
	for _, s := range svcs {
		args = append(args, "--"+s.name+"-addr=127.0.0.1:0")
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	r.p.Listening = func(name string, a net.Addr) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.addrs[name] = a.String()
	}
	return r
}

func (r *rig) addr(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addrs[name]
}

func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.stop, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.p.Run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	r.t.Cleanup(cancel)
}

func (r *rig) wait() error {
	r.t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(30 * time.Second):
		r.t.Fatal("Run did not return")
		return nil
	}
}

func (r *rig) get(name, path string) (int, string) {
	r.t.Helper()
	res, err := http.Get("http://" + r.addr(name) + path)
	if err != nil {
		r.t.Fatalf("GET %s %s: %v", name, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (r *rig) waitListening(names ...string) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range names {
		for r.addr(n) == "" {
			if time.Now().After(deadline) {
				r.t.Fatalf("%s never listened", n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func TestShutdownOrder(t *testing.T) {
	api := &fakeService{name: "api", handle: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "api") })}
	worker := &fakeService{name: "worker"}
	r := newRig(t, nil, api, worker)
	var closed []string
	r.p.opened = []resource{
		{"first resource", func() error { r.j.add("closed first resource"); closed = append(closed, "first"); return nil }},
		{"second resource", func() error { r.j.add("closed second resource"); closed = append(closed, "second"); return nil }},
	}
	r.start()
	r.waitListening("api", "worker")

	if code, body := r.get("api", "/anything"); code != 200 || body != "api" {
		t.Fatalf("api's own route: %d %q", code, body)
	}
	for _, name := range []string{"api", "worker"} {
		if code, body := r.get(name, "/readyz"); code != 200 {
			t.Fatalf("%s /readyz before shutdown: %d %s", name, code, body)
		}
		if code, _ := r.get(name, "/metrics"); code != 200 {
			t.Fatalf("%s /metrics: %d", name, code)
		}
		if _, body := r.get(name, "/debug/pprof/"); strings.Contains(body, "goroutine") {
			t.Fatalf("%s serves pprof without --pprof", name)
		}
	}
	r.stop()
	if err := r.wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	steps := r.j.all()
	// Each service flushes after its readiness turned 503 and while its
	// listener still answers; resources close after both, last first.
	if len(steps) != 4 || !slices.Contains(steps[:2], "api: flushed with readiness 503") ||
		!slices.Contains(steps[:2], "worker: flushed with readiness 503") ||
		steps[2] != "closed second resource" || steps[3] != "closed first resource" {
		t.Fatalf("shutdown went %q", steps)
	}
	if _, err := http.Get("http://" + r.addr("api") + "/healthz"); err == nil {
		t.Fatal("the listener still answers after Run returned")
	}
}

func TestAFailingServiceStopsTheOthers(t *testing.T) {
	broken := &fakeService{name: "broken", fail: errors.New("cannot go on")}
	worker := &fakeService{name: "worker"}
	r := newRig(t, nil, worker, broken)
	r.start()
	err := r.wait()
	if err == nil || !strings.Contains(err.Error(), "broken stopped before shutdown: cannot go on") {
		t.Fatalf("Run = %v, want it to name the broken service and its error", err)
	}
	if steps := r.j.all(); !slices.Equal(steps, []string{"worker: flushed with readiness 503"}) {
		t.Fatalf("the other service went %q, want it drained and stopped", steps)
	}
}

func TestShutdownOverrunningTheGraceIsAnError(t *testing.T) {
	stuck := &fakeService{name: "stuck", hold: make(chan struct{})}
	t.Cleanup(func() { close(stuck.hold) })
	r := newRig(t, []string{"--shutdown-grace=200ms"}, stuck)
	r.start()
	r.waitListening("stuck")
	r.stop()
	err := r.wait()
	if err == nil || !strings.Contains(err.Error(), "shutdown overran --shutdown-grace=200ms: still running: stuck") {
		t.Fatalf("Run = %v, want an overrun naming the stuck service", err)
	}
}

func TestAResourceThatWillNotCloseOverrunsTheGrace(t *testing.T) {
	r := newRig(t, []string{"--shutdown-grace=200ms"}, &fakeService{name: "worker"})
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	r.p.opened = []resource{{"stuck resource", func() error { <-stuck; return nil }}}
	r.start()
	r.waitListening("worker")
	r.stop()
	err := r.wait()
	if err == nil || !strings.Contains(err.Error(), "overran --shutdown-grace=200ms while closing shared resources") {
		t.Fatalf("Run = %v, want an overrun while closing", err)
	}
}

func TestPprofOnlyWhenAsked(t *testing.T) {
	r := newRig(t, []string{"--pprof"}, &fakeService{name: "worker"})
	r.start()
	r.waitListening("worker")
	if code, body := r.get("worker", "/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("/debug/pprof/ with --pprof: %d", code)
	}
	r.stop()
	if err := r.wait(); err != nil {
		t.Fatal(err)
	}
}

func TestAPortInUseStopsTheStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := newRig(t, nil, &fakeService{name: "worker"})
	r.p.addrs[0] = ln.Addr().String()
	r.start()
	if err := r.wait(); err == nil || !strings.Contains(err.Error(), "worker: listen on "+ln.Addr().String()) {
		t.Fatalf("Run = %v, want the listen error naming the service and address", err)
	}
}

func TestValidateNamesTheSetting(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--shutdown-grace=0s"}, "--shutdown-grace=0s (FOOTFALL_SHUTDOWN_GRACE): want a positive duration"},
		{[]string{"--worker-addr=nowhere"}, "--worker-addr=nowhere (FOOTFALL_WORKER_ADDR): want host:port"},
	}
	for _, tt := range tests {
		p := New(Module{Name: "worker", Port: 1, Setup: func(*flag.FlagSet) Builder { return nil }})
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		p.RegisterFlags(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		if err := p.Validate(); err == nil || err.Error() != tt.want {
			t.Errorf("Validate with %v = %v, want %q", tt.args, err, tt.want)
		}
	}
}
