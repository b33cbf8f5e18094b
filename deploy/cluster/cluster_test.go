// Package cluster_test runs Footfall on a local cluster (cluster.sh: three
// KRaft Kafka nodes, ClickHouse as two shards x two replicas) with two of
// each consuming service, under load, while a broker, a ClickHouse
// replica, a loader, an enricher and a collector are taken down, and
// checks that nothing answered 2xx was lost or counted twice
// (TestClusterForget, in forget_test.go, forgets a visitor and rebuilds a
// day on the cluster). `make
// cluster-test` starts the cluster and runs it (FOOTFALL_CLUSTER=1);
// elsewhere it skips.
package cluster_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/postgres"
	"github.com/footfall/footfall/internal/testenv"
)

// How long the load runs, and when each fault starts and ends, from the
// load's start.
const (
	loadFor      = 80 * time.Second
	loadRate     = 60 // visits a second, five events each
	collectorOff = 62 * time.Second
)

// faults is the schedule: at a time from the load's start, a cluster node
// or a Footfall process is taken down or brought back.
var faults = []struct {
	at   time.Duration
	what string
}{
	{10 * time.Second, "kill kafka-2"},
	{22 * time.Second, "start kafka-2"},
	{28 * time.Second, "stop ch-1-1"},
	{34 * time.Second, "kill loader-1"},
	{34 * time.Second, "kill enricher-1"},
	{42 * time.Second, "start loader-1"},
	{42 * time.Second, "start enricher-1"},
	{48 * time.Second, "start ch-1-1"},
	{collectorOff, "term collector-2"},
}

func TestCluster(t *testing.T) {
	if os.Getenv("FOOTFALL_CLUSTER") != "1" {
		t.Skip("cluster test: needs the local cluster; run it with `make cluster-test`")
	}
	c := newCluster(t)
	c.migrate()
	for _, name := range []string{"collector-1", "collector-2", "enricher-1", "enricher-2", "loader-1", "loader-2", "promotions-1", "promotions-2"} {
		c.start(name)
	}
	c.ready("collector-1", "collector-2", "enricher-1", "enricher-2", "loader-1", "loader-2", "promotions-1", "promotions-2")
	t.Logf("8 Footfall processes ready; load %d visits/s (%d events/s) for %v", loadRate, loadRate*5, loadFor)

	members := watchGroups(t, c.kafka, c.loaderGroup, c.enricherGroup)
	l := startLoad(t, c, loadRate)
	start := time.Now()
	var steps sync.WaitGroup
	for _, f := range faults {
		// Each on its own clock: bringing a broker back takes a while,
		// and the steps after it must not wait for that.
		steps.Add(1)
		time.AfterFunc(f.at, func() { defer steps.Done(); c.fault(f.what) })
	}
	time.Sleep(time.Until(start.Add(loadFor)))
	steps.Wait()
	sent := l.stop()
	t.Logf("load: %d visits, %d events answered 2xx, %d events never answered 2xx after retries; %d requests retried",
		sent.visits, len(sent.events), sent.unanswered, sent.retries)
	if exit := c.wait("collector-2"); exit != nil {
		t.Errorf("collector-2 after SIGTERM: %v, want a clean exit", exit)
	}

	c.checkClickHouse(sent)
	c.checkPostgres(sent)
	c.checkPromotions(sent)
	members.stop()
	members.report(t)
	c.checkLeaving()
}

// ---- the cluster and Footfall's processes ------------------------------------

type cluster struct {
	t             *testing.T
	script        string
	bin           string
	logs          string
	env           []string
	kafka         []string
	chAddrs       string
	chDatabase    string
	pgURL         string
	prefix        string
	loaderGroup   string
	enricherGroup string
	writeKey      string
	keys          map[string]string // server keys by site

	mu        sync.Mutex
	procs     map[string]*exec.Cmd
	nodeLocks map[string]*sync.Mutex // by node, held while a fault step of it runs
	exits     map[string]*exit
	pool      *pgxpool.Pool
}

// exit is how a process ended, once done is closed.
type exit struct {
	done chan struct{}
	err  error
}

// ports of each process's listener.
var ports = map[string]int{
	"collector-1": 29401, "collector-2": 29402, "enricher-1": 29411, "enricher-2": 29412,
	"loader-1": 29421, "loader-2": 29422, "promotions-1": 29431, "promotions-2": 29432,
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(repo, "deploy/cluster/cluster.sh")
	out, err := exec.Command(script, "status").CombinedOutput()
	if err != nil {
		t.Fatalf("the cluster is not up (deploy/cluster/cluster.sh up):\n%s", out)
	}
	vars := map[string]string{}
	envOut, err := exec.Command(script, "env").Output()
	if err != nil {
		t.Fatalf("cluster.sh env: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(envOut)), "\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		vars[k] = strings.Trim(v, "'")
	}
	ns := "cl_" + randomHex(4)
	c := &cluster{
		t: t, script: script, logs: filepath.Join(repo, ".data/cluster/footfall", ns),
		kafka: strings.Split(vars["FOOTFALL_KAFKA_BROKERS"], ","), chAddrs: vars["FOOTFALL_CLUSTER_CLICKHOUSE_NODES"],
		chDatabase: ns, prefix: ns, loaderGroup: ns + "-loader", enricherGroup: ns + "-enricher",
		writeKey: "wk_" + randomHex(8), procs: map[string]*exec.Cmd{}, exits: map[string]*exit{},
	}
	if err := os.MkdirAll(c.logs, 0o755); err != nil {
		t.Fatal(err)
	}
	c.bin = filepath.Join(c.logs, "footfall")
	build := exec.Command("go", "build", "-o", c.bin, "./cmd/footfall")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	c.pgURL = c.createPostgres(ns)
	c.env = append(os.Environ(),
		"FOOTFALL_KAFKA_BROKERS="+vars["FOOTFALL_KAFKA_BROKERS"],
		"FOOTFALL_KAFKA_TOPIC_PREFIX="+c.prefix,
		"FOOTFALL_KAFKA_PARTITIONS=6",
		"FOOTFALL_KAFKA_REPLICATION_FACTOR=3",
		"FOOTFALL_CLICKHOUSE_ADDR="+c.chAddrs,
		"FOOTFALL_CLICKHOUSE_CLUSTER="+vars["FOOTFALL_CLICKHOUSE_CLUSTER"],
		"FOOTFALL_CLICKHOUSE_DATABASE="+c.chDatabase,
		// Both replicas of a shard hold what the loader wrote before it
		// moves on: it folds visits from its own writes, on whichever
		// replica answers after one fails.
		"FOOTFALL_CLICKHOUSE_INSERT_QUORUM=2",
		"FOOTFALL_POSTGRES_URL="+c.pgURL,
		"FOOTFALL_COLLECTOR_SITES=demo="+c.writeKey,
		"FOOTFALL_LOADER_GROUP="+c.loaderGroup,
		"FOOTFALL_ENRICHER_GROUP="+c.enricherGroup,
		"FOOTFALL_LOG_FORMAT=text",
	)
	t.Cleanup(c.stopAll)
	t.Logf("namespace %s; process logs in %s", ns, c.logs)
	return c
}

// setEnv sets a variable of the processes' environment.
func (c *cluster) setEnv(k, v string) {
	c.env = slices.DeleteFunc(c.env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") })
	c.env = append(c.env, k+"="+v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// createPostgres makes a database of its own on the local PostgreSQL and
// returns its URL; it stays after the test, for a look at what happened.
func (c *cluster) createPostgres(db string) string {
	base := postgres.DefaultConfig()
	if v := os.Getenv(config.EnvName("postgres-url")); v != "" {
		base.URL = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := postgres.Open(ctx, base)
	if err != nil {
		c.t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		c.t.Fatalf("create database %s: %v", db, err)
	}
	u, _ := url.Parse(base.URL)
	u.Path = "/" + db
	return u.String()
}

func (c *cluster) migrate() {
	for _, args := range [][]string{{"migrate"}, {"seed-demo"}} {
		cmd := exec.Command(c.bin, args...)
		cmd.Env = c.env
		if out, err := cmd.CombinedOutput(); err != nil {
			c.t.Fatalf("footfall %s: %v\n%s", args[0], err, out)
		}
	}
}

// start runs one Footfall process, NAME-N running service NAME.
func (c *cluster) start(name string) {
	c.t.Helper()
	service, _, _ := strings.Cut(name, "-")
	log, err := os.OpenFile(filepath.Join(c.logs, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(c.bin, service, fmt.Sprintf("--%s-addr=127.0.0.1:%d", service, ports[name]))
	cmd.Env = append(c.env, "FOOTFALL_COLLECTOR_SPOOL_DIR="+filepath.Join(c.logs, name+"-spool"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	e := &exit{done: make(chan struct{})}
	go func() { e.err = cmd.Wait(); _ = log.Close(); close(e.done) }()
	c.mu.Lock()
	c.procs[name], c.exits[name] = cmd, e
	c.mu.Unlock()
}

// ready waits until every named process answers /readyz with 200.
func (c *cluster) ready(names ...string) {
	c.t.Helper()
	for _, name := range names {
		u := fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[name])
		testenv.Eventually(c.t, 90*time.Second, func() (bool, string) {
			res, err := httpClient.Get(u)
			if err != nil {
				return false, name + ": " + err.Error()
			}
			_ = res.Body.Close()
			return res.StatusCode == 200, fmt.Sprintf("%s: /readyz %d", name, res.StatusCode)
		})
	}
}

// readyWithin is ready for use off the test's goroutine: it returns what
// went wrong instead of failing the test.
func (c *cluster) readyWithin(name string, d time.Duration) error {
	u := fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[name])
	deadline := time.Now().Add(d)
	for {
		res, err := httpClient.Get(u)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("/readyz %d", res.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %v: %v", d, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// signal sends sig to a process.
func (c *cluster) signal(name string, sig os.Signal) {
	c.mu.Lock()
	cmd := c.procs[name]
	c.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil {
		c.t.Errorf("signal %s: %v", name, err)
	}
}

// wait returns how a process ended, waiting up to a minute.
func (c *cluster) wait(name string) error {
	c.mu.Lock()
	e := c.exits[name]
	c.mu.Unlock()
	select {
	case <-e.done:
		return e.err
	case <-time.After(time.Minute):
		return fmt.Errorf("still running a minute on")
	}
}

func (c *cluster) alive(name string) bool {
	c.mu.Lock()
	e := c.exits[name]
	c.mu.Unlock()
	if e == nil {
		return false
	}
	select {
	case <-e.done:
		return false
	default:
		return true
	}
}

func (c *cluster) stopAll() {
	c.mu.Lock()
	names := make([]string, 0, len(c.procs))
	for name := range c.procs {
		names = append(names, name)
	}
	c.mu.Unlock()
	for _, name := range names {
		if c.alive(name) {
			c.signal(name, sigterm)
		}
	}
	for _, name := range names {
		c.mu.Lock()
		e := c.exits[name]
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-time.After(30 * time.Second):
			c.signal(name, sigkill)
		}
	}
	// The cluster keeps nothing of this run but its logs: topics and the
	// ClickHouse database go (the PostgreSQL database stays for a look),
	// unless the run failed and FOOTFALL_CLUSTER_KEEP=1 asks to keep them.
	if c.t.Failed() && os.Getenv("FOOTFALL_CLUSTER_KEEP") == "1" {
		c.t.Logf("kept ClickHouse database %s and topics %s.* (FOOTFALL_CLUSTER_KEEP=1)", c.chDatabase, c.prefix)
		return
	}
	if conn, err := clickhouse.Open(context.Background(), c.chConfig(), "default"); err == nil {
		_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+c.chDatabase+" ON CLUSTER footfall")
		_ = conn.Close()
	}
	if admin, err := sarama.NewClusterAdmin(c.kafka, sarama.NewConfig()); err == nil {
		if topics, err := admin.ListTopics(); err == nil {
			for name := range topics {
				if strings.HasPrefix(name, c.prefix+".") {
					_ = admin.DeleteTopic(name)
				}
			}
		}
		_ = admin.Close()
	}
}

// fault carries out one step of the schedule: "kill|stop|start|term NODE".
// Steps run on their own clocks, but one node's steps run in order: a
// "start" waits for a "stop" still under way (a ClickHouse server can take
// twenty seconds to shut down while quorum inserts wait on it; started
// then, cluster.sh found it still running and left it to exit for good).
func (c *cluster) fault(step string) {
	verb, node, _ := strings.Cut(step, " ")
	lock := c.nodeLock(node)
	lock.Lock()
	defer lock.Unlock()
	c.t.Logf("%s  fault: %s", time.Now().Format("15:04:05.000"), step)
	if _, isProc := ports[node]; isProc {
		switch verb {
		case "kill":
			c.signal(node, sigkill)
			_ = c.wait(node)
		case "term":
			c.signal(node, sigterm)
		case "start":
			c.start(node)
			started := time.Now()
			if err := c.readyWithin(node, 90*time.Second); err != nil {
				c.t.Errorf("%s after its restart: %v", node, err)
				return
			}
			c.t.Logf("%s  %s ready again after %v", time.Now().Format("15:04:05.000"), node, time.Since(started).Round(10*time.Millisecond))
		}
		return
	}
	out, err := exec.Command(c.script, verb, node).CombinedOutput()
	if err != nil {
		c.t.Errorf("cluster.sh %s %s: %v\n%s", verb, node, err, out)
	}
}

// nodeLock is held while a step of node's runs.
func (c *cluster) nodeLock(node string) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodeLocks == nil {
		c.nodeLocks = map[string]*sync.Mutex{}
	}
	if c.nodeLocks[node] == nil {
		c.nodeLocks[node] = &sync.Mutex{}
	}
	return c.nodeLocks[node]
}

func (c *cluster) chConfig() clickhouse.Config {
	cfg := clickhouse.DefaultConfig()
	cfg.Addr, cfg.Database, cfg.Cluster = c.chAddrs, c.chDatabase, "footfall"
	return cfg
}

// postgres is a pool on the run's PostgreSQL database, opened once.
func (c *cluster) postgres() *pgxpool.Pool {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pool == nil {
		cfg := postgres.DefaultConfig()
		cfg.URL = c.pgURL
		pool, err := postgres.Open(context.Background(), cfg)
		if err != nil {
			c.t.Fatal(err)
		}
		c.t.Cleanup(pool.Close)
		c.pool = pool
	}
	return c.pool
}
