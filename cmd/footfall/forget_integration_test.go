package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/testenv"
)

// TestIntegrationForgetCommand runs `footfall forget` and `--lift` as an
// operator would, on a visitor with one linked device.
func TestIntegrationForgetCommand(t *testing.T) {
	kc := testenv.Kafka(t)
	pool := testenv.Postgres(t)
	cc, conn := testenv.ClickHouse(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO identities (site_id, anonymous_id, user_id) VALUES ('shop', 'anon-x', 'user-x'), ('shop', 'anon-y', 'user-y')`); err != nil {
		t.Fatal(err)
	}
	// An INSERT through clickhouse-go sends its rows as a batch.
	b, err := conn.PrepareBatch(ctx, `INSERT INTO events (id, type, site_id, time, anonymous_id)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range [][]any{{"e-1", "pageview", "shop", time.Now(), "anon-x"}, {"e-2", "pageview", "shop", time.Now(), "anon-y"}} {
		if err := b.Append(row...); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--kafka-brokers", strings.Join(kc.Brokers, ","), "--kafka-topic-prefix", kc.TopicPrefix,
		"--postgres-url", pool.Config().ConnString(), "--clickhouse-addr", cc.Addr, "--clickhouse-database", cc.Database,
		"--site", "shop", "--user", "user-x"}

	var stderr bytes.Buffer
	if code := run(append([]string{"forget", "--no-wait"}, flags...), &stderr); code != 0 {
		t.Fatalf("forget exited %d: %s", code, stderr.String())
	}
	var links int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM identities WHERE user_id = 'user-x' OR anonymous_id = 'anon-x'`).Scan(&links); err != nil {
		t.Fatal(err)
	}
	var events, others uint64
	if err := conn.QueryRow(ctx, `SELECT countIf(anonymous_id = 'anon-x'), countIf(anonymous_id = 'anon-y') FROM events`).Scan(&events, &others); err != nil {
		t.Fatal(err)
	}
	if links != 0 || events != 0 || others != 1 {
		t.Errorf("after forget: %d links and %d events of user-x, %d of user-y; want 0, 0, 1", links, events, others)
	}
	var status string
	if err := pool.QueryRow(ctx, `SELECT status FROM forget_requests WHERE source = 'cli'`).Scan(&status); err != nil || status != "done" {
		t.Errorf("forget_requests: %q, %v; want done", status, err)
	}

	if code := run([]string{"forget", "--site", "shop"}, &stderr); code != 2 {
		t.Errorf("forget without --user exited %d, want 2", code)
	}
	if code := run(append([]string{"forget", "--lift"}, flags...), &stderr); code != 0 {
		t.Fatalf("forget --lift exited %d: %s", code, stderr.String())
	}
}
