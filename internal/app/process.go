package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/postgres"
	"github.com/footfall/footfall/internal/server"
)

// Process runs modules in one process and owns what they share.
type Process struct {
	modules  []Module
	builders []Builder
	addrs    []string
	grace    time.Duration
	pprof    bool
	kafka    kafka.Config
	pg       postgres.Config
	ch       clickhouse.Config
	log      *slog.Logger

	// Listening, if set, is told each module's bound address (tests listen
	// on port 0).
	Listening func(module string, addr net.Addr)

	mu      sync.Mutex
	opened  []resource // in the order opened; closed in reverse
	prod    *kafka.Producer
	pool    *pgxpool.Pool
	chc     *clickhouse.Client
	stopped bool
}

type resource struct {
	name  string
	close func() error
}

// DefaultGrace bounds a shutdown: under Kubernetes' default 30 s between
// SIGTERM and SIGKILL.
const DefaultGrace = 25 * time.Second

// New returns a Process of modules.
func New(modules ...Module) *Process {
	return &Process{
		modules: modules, grace: DefaultGrace,
		kafka: kafka.DefaultConfig(), pg: postgres.DefaultConfig(), ch: clickhouse.DefaultConfig(),
	}
}

// RegisterFlags registers the process's flags, the flags of the resources
// its modules need (once, however many need them) and each module's own.
func (p *Process) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&p.grace, "shutdown-grace", p.grace, "how long a shutdown may take: readiness 503, stop intake, flush, commit, close; past it the process exits with an error")
	fs.BoolVar(&p.pprof, "pprof", p.pprof, "serve net/http/pprof under /debug/pprof/ on every service's port")
	if p.needs(Kafka) {
		p.kafka.RegisterFlags(fs)
	}
	if p.needs(Postgres) {
		p.pg.RegisterFlags(fs)
	}
	if p.needs(ClickHouse) {
		p.ch.RegisterFlags(fs)
	}
	p.addrs = make([]string, len(p.modules))
	p.builders = make([]Builder, len(p.modules))
	for i, m := range p.modules {
		p.addrs[i] = "127.0.0.1:" + strconv.Itoa(m.Port)
		fs.StringVar(&p.addrs[i], m.Name+"-addr", p.addrs[i], m.Name+" listen address: its HTTP API, if it has one, and /healthz, /readyz, /metrics")
		p.builders[i] = m.Setup(fs)
	}
}

func (p *Process) needs(n Need) bool {
	for _, m := range p.modules {
		if m.needs(n) {
			return true
		}
	}
	return false
}

// Validate reports the first process or resource setting that cannot work;
// each module's builder validates its own.
func (p *Process) Validate() error {
	if p.grace <= 0 {
		return config.Invalid("shutdown-grace", p.grace, "a positive duration")
	}
	for i, m := range p.modules {
		if _, _, err := net.SplitHostPort(p.addrs[i]); err != nil {
			return config.Invalid(m.Name+"-addr", p.addrs[i], "host:port")
		}
	}
	checks := []struct {
		need  Need
		check func() error
	}{{Kafka, p.kafka.Validate}, {Postgres, p.pg.Validate}, {ClickHouse, p.ch.Validate}}
	for _, c := range checks {
		if p.needs(c.need) {
			if err := c.check(); err != nil {
				return err
			}
		}
	}
	return nil
}

// unit is one module, built and listening.
type unit struct {
	name string
	svc  Service
	ops  *server.Ops
	ln   net.Listener
	srv  *http.Server
}

// Run builds every module, serves their ports and runs them until ctx
// ends or one of them fails, then shuts the process down in order:
//
//  1. every service's readiness turns 503, so load balancers look away;
//  2. the services' contexts end: consumers write the batch in hand,
//     commit and leave their groups;
//  3. the listeners stop accepting and requests in flight finish (the
//     collector's each get stored, in Kafka or its spool, or refused);
//  4. the shared resources, and those a module handed over with
//     Deps.Closer, close in reverse order of opening (the collector's
//     spool, then the producer, which flushes).
//
// All of it within --shutdown-grace; past that Run returns an error naming
// what was still running, and main exits.
func (p *Process) Run(ctx context.Context, log *slog.Logger) error {
	p.log = log
	if err := p.Validate(); err != nil {
		return err
	}
	reg := server.NewRegistry()
	units := make([]*unit, 0, len(p.modules))
	fail := func(err error) error {
		for _, u := range units {
			if u.ln != nil {
				_ = u.ln.Close()
			}
		}
		return errors.Join(err, p.closeResources())
	}
	for i, m := range p.modules {
		ops := server.NewOpsOn(reg)
		mlog := log.With("component", m.Name)
		svc, err := p.builders[i](&Deps{Log: mlog, Ops: ops, Kafka: p.kafka, Grace: p.grace, p: p})
		if err != nil {
			return fail(fmt.Errorf("%s: %w", m.Name, err))
		}
		units = append(units, &unit{name: m.Name, svc: svc, ops: ops})
	}
	for i, u := range units {
		ln, err := net.Listen("tcp", p.addrs[i])
		if err != nil {
			return fail(fmt.Errorf("%s: listen on %s: %w", u.name, p.addrs[i], err))
		}
		u.ln = ln
	}

	runCtx, stopServices := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServices()
	type exit struct {
		name string
		err  error
	}
	exited := make(chan exit, len(units))
	httpFailed := make(chan error, len(units))
	for _, u := range units {
		var h http.Handler
		if hs, ok := u.svc.(HTTPService); ok {
			h = hs.Handler()
		}
		// No request waits forever on its sender: headers within 10 s, the
		// whole request (a 512 KiB batch over a slow phone line included)
		// within 30 s. Answers have their own deadlines (the intake's
		// 800 ms, --dashboard-timeout), and no write timeout here, so that
		// a long answer such as a 30 s profile is not cut off.
		u.srv = &http.Server{Handler: server.Mux(u.ops, h, p.pprof),
			ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
		go func() {
			if err := u.srv.Serve(u.ln); !errors.Is(err, http.ErrServerClosed) {
				httpFailed <- fmt.Errorf("%s: serve %s: %w", u.name, u.ln.Addr(), err)
			}
		}()
		go func() { exited <- exit{u.name, u.svc.Run(runCtx)} }()
		log.Info("listening", "component", u.name, "addr", u.ln.Addr().String())
		if p.Listening != nil {
			p.Listening(u.name, u.ln.Addr())
		}
	}

	running := map[string]bool{}
	for _, u := range units {
		running[u.name] = true
	}
	var cause error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "grace", p.grace.String())
	case e := <-exited:
		delete(running, e.name)
		cause = fmt.Errorf("%s stopped before shutdown: %w", e.name, orStopped(e.err))
		log.Error("a service stopped; shutting the others down", "component", e.name, "err", e.err)
	case err := <-httpFailed:
		cause = err
		log.Error("a listener failed; shutting down", "err", err)
	}

	deadline, cancel := context.WithTimeout(context.Background(), p.grace)
	defer cancel()
	errs := []error{cause}
	for _, u := range units { // 1
		u.ops.Drain()
	}
	stopServices() // 2
	for len(running) > 0 {
		select {
		case e := <-exited:
			delete(running, e.name)
			if e.err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", e.name, e.err))
			}
		case <-deadline.Done():
			names := make([]string, 0, len(running))
			for n := range running {
				names = append(names, n)
			}
			errs = append(errs, fmt.Errorf("shutdown overran --shutdown-grace=%s: still running: %s", p.grace, strings.Join(names, ", ")))
			running = nil
		}
	}
	for _, u := range units { // 3
		if err := u.srv.Shutdown(deadline); err != nil {
			errs = append(errs, fmt.Errorf("%s: shut down listener: %w", u.name, err))
		}
	}
	closed := make(chan error, 1) // 4
	go func() { closed <- p.closeResources() }()
	select {
	case err := <-closed:
		errs = append(errs, err)
	case <-deadline.Done():
		errs = append(errs, fmt.Errorf("shutdown overran --shutdown-grace=%s while closing shared resources", p.grace))
	}
	err := errors.Join(errs...)
	if err == nil {
		log.Info("stopped")
	}
	return err
}

func orStopped(err error) error {
	if err == nil {
		return errors.New("returned without an error")
	}
	return err
}

// closeResources closes what was opened, last first.
func (p *Process) closeResources() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	var errs []error
	for i := len(p.opened) - 1; i >= 0; i-- {
		r := p.opened[i]
		if err := r.close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", r.name, err))
		}
		p.log.Info("closed", "resource", r.name)
	}
	p.opened = nil
	return errors.Join(errs...)
}

// open records a resource for closing; the lock is held.
func (p *Process) open(name string, close func() error) error {
	if p.stopped {
		return fmt.Errorf("%s: the process is shutting down", name)
	}
	p.opened = append(p.opened, resource{name, close})
	return nil
}

func (p *Process) producer() (*kafka.Producer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prod == nil {
		pr, err := kafka.NewProducer(p.kafka, "footfall", p.log.With("resource", "kafka"))
		if err != nil {
			return nil, err
		}
		if err := p.open("kafka producer", pr.Close); err != nil {
			return nil, errors.Join(err, pr.Close())
		}
		p.prod = pr
	}
	return p.prod, nil
}

func (p *Process) postgres() (*pgxpool.Pool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pool == nil {
		pool, err := postgres.Connect(p.pg)
		if err != nil {
			return nil, err
		}
		if err := p.open("postgres pool", func() error { pool.Close(); return nil }); err != nil {
			pool.Close()
			return nil, err
		}
		p.pool = pool
	}
	return p.pool, nil
}

func (p *Process) clickhouse() (*clickhouse.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.chc == nil {
		c := clickhouse.NewClient(p.ch, p.ch.Database)
		if err := p.open("clickhouse", c.Close); err != nil {
			return nil, err
		}
		p.chc = c
	}
	return p.chc, nil
}
