// Package app is the lifecycle every Footfall service shares. A service is
// a Module: a name, a default port, the shared resources it needs and how
// to build it once flags are parsed. A Process runs one module or several
// (`footfall all`): it opens each shared resource once, serves each
// module's port, and shuts down in one order (readiness 503, stop intake,
// flush and commit, close resources, then the listeners).
package app

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
)

// Service is what a module runs. Run works until ctx ends, then finishes
// what it holds (the batch in hand, its commit) and returns. When ctx ends
// readiness is already 503; shared resources are closed only after every
// service of the process has returned.
type Service interface {
	Run(ctx context.Context) error
}

// HTTPService is a Service that serves requests on its module's port,
// beside /healthz, /readyz and /metrics.
type HTTPService interface {
	Service
	Handler() http.Handler
}

// Need is a shared resource a module uses; its flags are registered only
// for commands whose modules need it.
type Need int

// The shared resources.
const (
	Kafka      Need = iota // the Kafka config, the shared producer, consumer groups
	Postgres               // one PostgreSQL pool per process
	ClickHouse             // one ClickHouse connection per process
)

// Module declares one service.
type Module struct {
	Name    string
	Summary string // one line for `footfall --help`
	// Port is the default port of the module's listener on 127.0.0.1,
	// declared here only: `footfall ports` prints it for the local scripts.
	Port  int
	Needs []Need
	// Setup registers the module's own flags and returns how to build the
	// service once they are parsed.
	Setup func(fs *flag.FlagSet) Builder
}

// Builder builds a module's service from its dependencies.
type Builder func(d *Deps) (Service, error)

// Deps is what a module is given. Resources are opened on first use, once
// per process, without waiting for the server behind them: a service
// starts while its database is down and reports not-ready until it is
// back. Asking for a resource also makes the module's readiness depend on
// it.
type Deps struct {
	Log *slog.Logger
	Ops *server.Ops
	// Kafka says where Kafka is and how topics are named.
	Kafka kafka.Config
	// Grace is the process's --shutdown-grace: a bound on the last write a
	// service makes as it stops.
	Grace time.Duration

	p *Process
}

// Producer returns the process's Kafka producer.
func (d *Deps) Producer() (*kafka.Producer, error) {
	pr, err := d.p.producer()
	if err != nil {
		return nil, err
	}
	d.Ops.AddCheck("kafka", pr.Ready)
	return pr, nil
}

// Postgres returns the process's PostgreSQL pool.
func (d *Deps) Postgres() (*pgxpool.Pool, error) {
	pool, err := d.p.postgres()
	if err != nil {
		return nil, err
	}
	d.Ops.AddCheck("postgres", pool.Ping)
	return pool, nil
}

// ClickHouse returns the process's ClickHouse client.
func (d *Deps) ClickHouse() (*clickhouse.Client, error) {
	c, err := d.p.clickhouse()
	if err != nil {
		return nil, err
	}
	d.Ops.AddCheck("clickhouse", c.Ping)
	return c, nil
}

// Closer hands the process something the module opened itself (the
// collector's spool), to be closed with the shared resources: after every
// service has returned and every listener has finished its requests, and
// before whatever was opened earlier, such as the producer.
func (d *Deps) Closer(name string, close func() error) error {
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	return d.p.open(name, close)
}

func (m Module) needs(n Need) bool {
	for _, x := range m.Needs {
		if x == n {
			return true
		}
	}
	return false
}

func (m Module) String() string { return fmt.Sprintf("%s (:%d)", m.Name, m.Port) }
