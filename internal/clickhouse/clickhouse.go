// Package clickhouse opens Footfall's ClickHouse connection from
// configuration.
package clickhouse

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/internal/config"
)

// Config says where ClickHouse is (native protocol).
type Config struct {
	Addr     string // host:port, or several comma-separated (servers of one cluster, tried in turn)
	Database string
	// Cluster names the cluster (remote_servers) Footfall's tables are on;
	// "" for one server (docs/scale-out.md).
	Cluster string
	// InsertQuorum is how many replicas of a shard must hold an insert
	// before it returns (0: one, replicated later). The loader folds a
	// visit from what it wrote before, so it must read its own writes on
	// whichever replica answers after a failover.
	InsertQuorum int
	Username     string
	Password     string
}

// DefaultConfig matches the local services of deploy/local.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:9000", Database: "footfall", Username: "default"}
}

// RegisterFlags binds c to fs under the clickhouse- prefix.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "clickhouse-addr", c.Addr, "ClickHouse native protocol address host:port, or several comma-separated (servers of one cluster: the next is tried when one is down)")
	fs.IntVar(&c.InsertQuorum, "clickhouse-insert-quorum", c.InsertQuorum, "replicas of a shard that must hold an insert before it returns, with reads that see every such insert (insert_quorum, select_sequential_consistency): every replica of a shard for a loader that must read its own writes after a replica fails (while one is down, inserts wait), a majority with three or more; 0: off (one server, or visits may miss a write a failed replica had not passed on)")
	fs.StringVar(&c.Cluster, "clickhouse-cluster", c.Cluster, "the ClickHouse cluster (remote_servers name) Footfall's tables are on: footfall migrate creates replicated tables under Distributed ones ON CLUSTER, and inserts wait until every shard has them (insert_distributed_sync); empty: one server")
	fs.StringVar(&c.Database, "clickhouse-database", c.Database, "ClickHouse database holding Footfall's tables")
	fs.StringVar(&c.Username, "clickhouse-user", c.Username, "ClickHouse user")
	fs.StringVar(&c.Password, "clickhouse-password", c.Password, "ClickHouse password (prefer FOOTFALL_CLICKHOUSE_PASSWORD)")
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Addr == "":
		return config.Invalid("clickhouse-addr", `""`, "host:port of the native protocol")
	case c.Database == "":
		return config.Invalid("clickhouse-database", `""`, "a database name")
	case c.InsertQuorum < 0:
		return config.Invalid("clickhouse-insert-quorum", c.InsertQuorum, "0 (off) or a number of replicas")
	}
	return nil
}

// lowCardinalitySetting turns on LowCardinality columns on the 18.x servers
// of Debian, where the type is experimental. Current servers have dropped the
// setting and reject it, so Open sends it only to servers that list it.
const lowCardinalitySetting = "allow_experimental_low_cardinality_type"

// Open connects to database db (pass c.Database, or "default" to create it)
// and checks the server answers.
func Open(ctx context.Context, c Config, db string) (driver.Conn, error) {
	conn, err := open(ctx, c, db, nil)
	if err != nil {
		return nil, err
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.settings WHERE name = ?", lowCardinalitySetting).Scan(&n); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("read clickhouse settings: %w", err)
	}
	settings := ch.Settings{}
	if n > 0 {
		settings[lowCardinalitySetting] = 1
	}
	if c.Cluster != "" {
		// An insert into a Distributed table returns once every shard
		// has its rows, not when they are queued on this server: only
		// then may the loader commit the batch's offsets.
		settings["insert_distributed_sync"] = 1
	}
	if c.InsertQuorum > 0 {
		settings["insert_quorum"] = c.InsertQuorum
		// 18.16 waits 10 minutes for a quorum by default; a batch
		// should fail sooner and be retried.
		settings["insert_quorum_timeout"] = 30000
		settings["select_sequential_consistency"] = 1
	}
	if len(settings) == 0 {
		return conn, nil
	}
	if err := conn.Close(); err != nil {
		return nil, fmt.Errorf("close clickhouse probe connection: %w", err)
	}
	return open(ctx, c, db, settings)
}

// addrs splits Addr's comma-separated servers.
func (c Config) addrs() []string {
	var out []string
	for _, a := range strings.Split(c.Addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func open(ctx context.Context, c Config, db string, settings ch.Settings) (driver.Conn, error) {
	conn, err := ch.Open(&ch.Options{
		Addr:        c.addrs(),
		Auth:        ch.Auth{Database: db, Username: c.Username, Password: c.Password},
		Settings:    settings,
		DialTimeout: 5 * time.Second,
		Compression: &ch.Compression{Method: ch.CompressionLZ4},
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", c.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("ping clickhouse %s/%s: %w", c.Addr, db, err)
	}
	return conn, nil
}

// Client is a ClickHouse connection opened on first use, so that a service
// can start while ClickHouse is down and connect once it answers.
type Client struct {
	cfg Config
	db  string

	mu   sync.Mutex
	conn driver.Conn
}

// Cluster is the cluster the client's tables are on (Config.Cluster); ""
// for one server, and for a client made by ClientOf.
func (c *Client) Cluster() string { return c.cfg.Cluster }

// NewClient returns a client of database db; nothing is dialled yet.
func NewClient(c Config, db string) *Client { return &Client{cfg: c, db: db} }

// ClientOf wraps a connection that is already open.
func ClientOf(conn driver.Conn) *Client { return &Client{conn: conn} }

// Conn returns the connection, opening it if no attempt has succeeded yet.
func (c *Client) Conn(ctx context.Context) (driver.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return c.conn, nil
	}
	conn, err := Open(ctx, c.cfg, c.db)
	if err != nil {
		return nil, err
	}
	c.conn = conn
	return conn, nil
}

// Ping reports whether ClickHouse answers, connecting first if need be.
func (c *Client) Ping(ctx context.Context) error {
	conn, err := c.Conn(ctx)
	if err != nil {
		return err
	}
	return conn.Ping(ctx)
}

// Close closes the connection, if one was opened.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}
