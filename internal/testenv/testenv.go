// Package testenv gives integration tests scratch space on the real Kafka,
// PostgreSQL and ClickHouse that deploy/local starts: a topic prefix, a
// database each, removed when the test ends.
//
// `make test` sets FOOTFALL_INTEGRATION=1; then a service that cannot be
// reached fails the test. Outside it, integration tests skip and say why.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/postgres"
	"github.com/footfall/footfall/migrations"
)

// Integration skips t unless the run is an integration run.
func Integration(t testing.TB) {
	t.Helper()
	if os.Getenv("FOOTFALL_INTEGRATION") != "1" {
		t.Skip("integration test: needs the local services; run it with `make test` (or set FOOTFALL_INTEGRATION=1 after `deploy/local/services.sh up`)")
	}
}

// Name returns a short unique name with prefix, safe as a database or topic name.
func Name(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// Log is a logger that writes through t.
func Log(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Kafka returns a config with a fresh topic prefix whose topics exist.
func Kafka(t testing.TB) kafka.Config {
	t.Helper()
	Integration(t)
	c := kafka.DefaultConfig()
	if v := os.Getenv("FOOTFALL_KAFKA_BROKERS"); v != "" {
		_ = (&c.Brokers).Set(v)
	}
	c.TopicPrefix = Name("test")
	topics := event.AllTopics(c.TopicPrefix)
	if err := kafka.EnsureTopics(c, slog.New(slog.DiscardHandler), topics); err != nil {
		t.Fatalf("kafka at %v: %v", []string(c.Brokers), err)
	}
	t.Cleanup(func() {
		if err := kafka.DeleteTopics(c, topics); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	return c
}

// Producer returns a producer on kc, closed when the test ends.
func Producer(t testing.TB, kc kafka.Config, clientID string) *kafka.Producer {
	t.Helper()
	p, err := kafka.NewProducer(kc, clientID, Log(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close producer: %v", err)
		}
	})
	Eventually(t, 30*time.Second, func() (bool, string) {
		err := p.Ready(context.Background())
		return err == nil, fmt.Sprint(err)
	})
	return p
}

// Postgres returns a pool on a fresh, migrated database.
func Postgres(t testing.TB) *pgxpool.Pool {
	t.Helper()
	Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := postgres.DefaultConfig()
	if v := os.Getenv(config.EnvName("postgres-url")); v != "" {
		base.URL = v
	}
	admin, err := postgres.Open(ctx, base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	db := Name("test")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("create database %s: %v", db, err)
	}
	u, _ := url.Parse(base.URL)
	u.Path = "/" + db
	cfg := base
	cfg.URL = u.String()
	pool, err := postgres.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("postgres %s: %v", db, err)
	}
	t.Cleanup(func() {
		pool.Close()
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		admin.Close()
	})
	if _, err := migrations.ApplyPostgres(ctx, pool, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("migrate %s: %v", db, err)
	}
	return pool
}

// ClickHouse returns the config and a connection of a fresh, migrated database.
func ClickHouse(t testing.TB) (clickhouse.Config, driver.Conn) {
	t.Helper()
	Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := clickhouse.DefaultConfig()
	if v := os.Getenv(config.EnvName("clickhouse-addr")); v != "" {
		cfg.Addr = v
	}
	cfg.Database = Name("test")
	root, err := clickhouse.Open(ctx, cfg, "default")
	if err != nil {
		t.Fatalf("clickhouse: %v", err)
	}
	if err := migrations.CreateClickHouseDatabase(ctx, root, cfg.Database); err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(ctx, cfg, cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		_ = root.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
		_ = root.Close()
	})
	if _, err := migrations.ApplyClickHouse(ctx, conn, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("migrate %s: %v", cfg.Database, err)
	}
	return cfg, conn
}

// Eventually polls cond every interval until it returns true or timeout
// passes, then fails with what cond last said.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %s: %s", timeout, last)
		}
		<-tick.C
	}
}

// Inspector returns an Inspector on kc, closed when the test ends.
func Inspector(t testing.TB, kc kafka.Config) *kafka.Inspector {
	t.Helper()
	in, err := kafka.NewInspector(kc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.Close(); err != nil {
			t.Errorf("close kafka inspector: %v", err)
		}
	})
	return in
}

// Publish writes events to their topics under prefix as the collector
// does (keyed by site and visitor), and fails t unless Kafka stored them.
func Publish(t testing.TB, p kafka.Publisher, prefix string, events ...*event.Event) {
	t.Helper()
	recs := make([]kafka.Record, len(events))
	for i, e := range events {
		v, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = kafka.Record{Topic: event.Topic(prefix, e.Type), Key: []byte(e.Key()), Value: v}
	}
	PublishRecords(t, p, recs...)
}

// PublishRecords writes recs as they are (bypassing the collector's
// checks), and fails t unless Kafka stored them.
func PublishRecords(t testing.TB, p kafka.Publisher, recs ...kafka.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Publish(ctx, recs); err != nil {
		t.Fatalf("publish %d records: %v", len(recs), err)
	}
}

// UUID returns a random UUID v4, as the beacon makes event ids.
func UUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Start runs run (a service's Run, say) in the background until the stop
// it returns is called, or the test ends: then run's context ends, its
// error fails the test, and run must return within wait or the test fails
// there. stop may be called more than once.
func Start(t testing.TB, what string, wait time.Duration, run func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s Run: %v", what, err)
				}
			case <-time.After(wait):
				t.Fatalf("%s did not return within %s of its context ending", what, wait)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
