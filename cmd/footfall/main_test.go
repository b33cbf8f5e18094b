package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/app"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/migrations"
)

// TestAllStartsWithoutItsDatabases: `footfall all` started while
// PostgreSQL and ClickHouse are unreachable stays up, each service says
// which dependency it misses, the collector takes events meanwhile, and
// once the databases come every service proceeds and the events land.
func TestAllStartsWithoutItsDatabases(t *testing.T) {
	kc := testenv.Kafka(t)
	pool := testenv.Postgres(t)
	if err := migrations.SeedDemo(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	chCfg, conn := testenv.ClickHouse(t)
	pc := pool.Config().ConnConfig
	pgFwd := testenv.NewForwarder(t, net.JoinHostPort(pc.Host, fmt.Sprint(pc.Port)))
	chFwd := testenv.NewForwarder(t, chCfg.Addr)

	p := app.New(modules...)
	fs := flag.NewFlagSet("all", flag.ContinueOnError)
	p.RegisterFlags(fs)
	args := []string{
		"--kafka-brokers=" + strings.Join(kc.Brokers, ","), "--kafka-topic-prefix=" + kc.TopicPrefix,
		"--postgres-url=postgres://" + pc.User + "@" + pgFwd.Addr + "/" + pc.Database + "?sslmode=disable",
		"--clickhouse-addr=" + chFwd.Addr, "--clickhouse-database=" + chCfg.Database,
		"--collector-sites=demo=wk_test", "--collector-spool-dir=" + t.TempDir(),
		"--enricher-group=" + testenv.Name("enricher"), "--loader-group=" + testenv.Name("loader"),
		"--alerts-group=" + testenv.Name("alerts"), "--moderator-group=" + testenv.Name("moderator"),
		"--enricher-batch-age=50ms", "--loader-batch-age=200ms", "--shutdown-grace=20s",
	}
	for _, m := range modules {
		args = append(args, "--"+m.Name+"-addr=127.0.0.1:0")
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	addrs := map[string]string{}
	p.Listening = func(name string, a net.Addr) {
		mu.Lock()
		defer mu.Unlock()
		addrs[name] = "http://" + a.String()
	}
	url := func(name string) string {
		mu.Lock()
		defer mu.Unlock()
		return addrs[name]
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, testenv.Log(t)) }()
	t.Cleanup(cancel)

	ready := func(name string) (int, string) {
		res, err := http.Get(url(name) + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	missing := map[string]string{"promotions": "postgres", "enricher": "postgres", "loader": "clickhouse",
		"alerts": "postgres", "reviews": "postgres", "moderator": "postgres"}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		if code, body := ready("collector"); code != http.StatusOK {
			return false, fmt.Sprintf("collector: %d %s", code, body)
		}
		for name, dep := range missing {
			code, body := ready(name)
			if code != http.StatusServiceUnavailable || !strings.Contains(body, `"`+dep+`"`) {
				return false, fmt.Sprintf("%s: %d %s, want 503 naming %s", name, code, body, dep)
			}
		}
		return true, ""
	})

	const id = "5f0c2a9e-8b1d-4c6e-9f3a-2b7d4e6f8a10"
	body := `{"site":"wk_test","events":[{"id":"` + id + `","type":"search","ts":` + fmt.Sprint(time.Now().UnixMilli()) +
		`,"anonymous_id":"absent-db-visitor","page":{"url":"https://shop.example/search?q=humidifier"},"search":{"keyword":"humidifier"}}]}`
	req, err := http.NewRequest(http.MethodPost, url("collector")+"/v1/batch", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	// A browser's: a library's header is a bot's, which promotes nothing.
	req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("collector answered %d with the databases down, want 200: Kafka holds the event", res.StatusCode)
	}

	pgFwd.Start()
	chFwd.Start()
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		for _, m := range modules {
			if code, body := ready(m.Name); code != http.StatusOK {
				return false, fmt.Sprintf("%s: %d %s", m.Name, code, body)
			}
		}
		return true, ""
	})
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		var loaded uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM events WHERE id = ?", id).Scan(&loaded); err != nil {
			return false, err.Error()
		}
		var promoted int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM user_promotions
			WHERE site_id = 'demo' AND user_key = 'absent-db-visitor' AND promotion_id = 'humidifier-deal'`).Scan(&promoted); err != nil {
			return false, err.Error()
		}
		return loaded == 1 && promoted == 1, fmt.Sprintf("clickhouse rows %d, promotion rows %d", loaded, promoted)
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("footfall all did not stop")
	}
}
