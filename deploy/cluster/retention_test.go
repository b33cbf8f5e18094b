package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/loader"
	"github.com/footfall/footfall/migrations"
)

// TestClusterRetention: the loader's retention drops whole expired days of
// raw events and logs on every shard and replica of a cluster (its
// Distributed tables have no partitions of their own), and keeps the rest.
func TestClusterRetention(t *testing.T) {
	if os.Getenv("FOOTFALL_CLUSTER") != "1" {
		t.Skip("cluster test: needs the local cluster; run it with `make cluster-test`")
	}
	c := newClusterConfig(t)
	ctx := context.Background()
	root, err := clickhouse.Open(ctx, c, "default")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = root.Close() }()
	if err := migrations.CreateClickHouseDatabaseOnCluster(ctx, root, c.Database, c.Cluster); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = root.Exec(context.Background(), "DROP DATABASE IF EXISTS "+c.Database+" ON CLUSTER footfall")
	})
	conn, err := clickhouse.Open(ctx, c, c.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := migrations.ApplyClickHouseCluster(ctx, conn, c.Database, c.Cluster, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}

	sink := loader.NewClickHouse(clickhouse.NewClient(c, c.Database))
	now := time.Now().UTC()
	var events []*event.Event
	for i := range 40 { // visitors on both shards
		for _, daysAgo := range []int{100, 1} {
			ts := now.AddDate(0, 0, -daysAgo)
			events = append(events, &event.Event{ID: testenv.UUID(), Type: event.Pageview, SiteID: "shop",
				AnonymousID: fmt.Sprint("v", i), SessionID: fmt.Sprint("s", i, "-", daysAgo),
				TS: ts.UnixMilli(), ReceivedAt: ts.UnixMilli(), Page: &event.Page{Path: "/"}})
		}
	}
	if err := sink.Write(ctx, events); err != nil {
		t.Fatal(err)
	}
	var logs []*event.LogRecord
	for i, daysAgo := range []int{40, 1} {
		ms := now.AddDate(0, 0, -daysAgo).UnixMilli()
		logs = append(logs, &event.LogRecord{V: 1, ID: testenv.UUID(), SiteID: "shop", Time: ms, Service: fmt.Sprint("svc", i),
			Body: "x", Attributes: map[string]string{}, ReceivedAt: ms})
	}
	if err := sink.WriteLogs(ctx, logs); err != nil {
		t.Fatal(err)
	}
	count := func(q string) uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("SELECT count() FROM events"); n != 80 {
		t.Fatalf("the cluster holds %d events, want 80", n)
	}

	dropped, err := sink.DropExpired(ctx, now, loader.Retention{RawDays: 30, LogsDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dropped %v", dropped)
	if day := now.AddDate(0, 0, -100).Format("20060102"); !slices.Contains(dropped, "events:"+day) {
		t.Errorf("dropped %v, want events:%s among them", dropped, day)
	}
	if n := count("SELECT count() FROM events"); n != 40 {
		t.Errorf("the cluster holds %d events after the retention, want the 40 recent ones", n)
	}
	if n := count("SELECT count() FROM logs"); n != 1 {
		t.Errorf("the cluster holds %d log records after the retention, want the recent one", n)
	}
	// On every server, replicas too: nothing older than the retention.
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		var old []string
		for _, addr := range strings.Split(c.Addr, ",") {
			node := c
			node.Addr = addr
			nc, err := clickhouse.Open(ctx, node, c.Database)
			if err != nil {
				return false, err.Error()
			}
			var n uint64
			err = nc.QueryRow(ctx, "SELECT count() FROM events_local WHERE time < now() - INTERVAL 30 DAY").Scan(&n)
			_ = nc.Close()
			if err != nil {
				return false, err.Error()
			}
			if n > 0 {
				old = append(old, fmt.Sprintf("%s: %d", addr, n))
			}
		}
		return len(old) == 0, fmt.Sprintf("expired events left on %v", old)
	})
}

// newClusterConfig is a ClickHouse config of a fresh database on the
// cluster that cluster.sh runs.
func newClusterConfig(t *testing.T) clickhouse.Config {
	t.Helper()
	out, err := exec.Command("./cluster.sh", "env").Output()
	if err != nil {
		t.Fatalf("cluster.sh env: %v", err)
	}
	cfg := clickhouse.DefaultConfig()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		switch v = strings.Trim(v, "'"); k {
		case "FOOTFALL_CLUSTER_CLICKHOUSE_NODES":
			cfg.Addr = v
		case "FOOTFALL_CLICKHOUSE_CLUSTER":
			cfg.Cluster = v
		}
	}
	cfg.Database = "cl_" + randomHex(4)
	return cfg
}
