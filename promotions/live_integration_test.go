package promotions_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/promotions"
)

// instance is one live promotions API, served on its own port as the
// process serves it.
type instance struct {
	t    *testing.T
	cfg  promotions.Config
	pool *pgxpool.Pool
	kc   kafka.Config
	addr string
	srv  *httptest.Server
	ops  *server.Ops
	stop func()
}

// startLive starts an instance and waits until its view is filled. addr
// "" picks a free port; a stopped instance's addr starts it again there.
func startLive(t *testing.T, cfg promotions.Config, pool *pgxpool.Pool, kc kafka.Config, addr string) *instance {
	t.Helper()
	ops := server.NewOps()
	api, err := promotions.NewLive(cfg, promotions.Deps{Pool: pool, Kafka: kc, Ops: ops, Log: testenv.Log(t)})
	if err != nil {
		t.Fatal(err)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(server.Mux(ops, api.Handler(), false))
	srv.Listener = ln
	srv.Start()
	in := &instance{t: t, cfg: cfg, pool: pool, kc: kc, addr: ln.Addr().String(), srv: srv, ops: ops}
	stopRun := testenv.Start(t, "promotions", 10*time.Second, api.Run)
	in.stop = func() { stopRun(); srv.Close() }
	t.Cleanup(in.stop)
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		res, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK, res.Status
	})
	return in
}

// restart stops in and starts a new instance on its port.
func (in *instance) restart() *instance {
	in.stop()
	return startLive(in.t, in.cfg, in.pool, in.kc, in.addr)
}

// TestIntegrationViewAnswersAsPostgres asks a live instance and the
// PostgreSQL-backed API the same questions over the same data, including
// the identity rule of a site with a secret: the answers must be the same
// bytes.
func TestIntegrationViewAnswersAsPostgres(t *testing.T) {
	cfg := promotions.DefaultConfig()
	cfg.IdentitySecrets = map[string]string{"shop": "shop-identity-secret"}
	sqlSrv, pool := newAPIWith(t, cfg)
	live := startLive(t, cfg, pool, testenv.Kafka(t), "")
	queries := []string{
		"site=shop&user=anon-1", "site=shop&user=anon-5&limit=4", "site=shop&user=anon-1&limit=2",
		"site=shop&user=anon-new", "site=shop", "site=shop&user=anon-3", "site=shop&user=anon-4",
		"site=other&user=anon-1", "site=other&user=user-7", "site=nope&user=anon-1", "user=anon-1",
		"site=shop&user=anon-1&limit=0", "site=shop&user=anon-1&limit=51", "site=shop&user=anon-1&limit=all",
		"site=shop&user=user-7", "site=shop&user=user-7&user_hash=nope", "site=shop&user=user-unknown",
		"site=shop&user=user-7&user_hash=" + event.UserHash("shop-identity-secret", "user-7"),
	}
	for _, q := range queries {
		want, wantStatus := fetch(t, sqlSrv.URL+"/v1/promotions?"+q)
		got, status := fetch(t, live.srv.URL+"/v1/promotions?"+q)
		if status != wantStatus || got != want {
			t.Errorf("%s: view answered %d %s\n  postgres answered %d %s", q, status, got, wantStatus, want)
		}
	}
}

func fetch(t *testing.T, url string) (string, int) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var b strings.Builder
	if _, err := bufio.NewReader(res.Body).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.String(), res.StatusCode
}

// sseEvent is one event a stream client read.
type sseEvent struct {
	id   string
	data promotions.Response
	at   time.Time
}

// sseClient reads a stream until the server ends it or the test does.
type sseClient struct {
	events chan sseEvent
	ended  chan error
	last   string
}

func openSSE(t *testing.T, url, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	c := &sseClient{events: make(chan sseEvent, 1024), ended: make(chan error, 1), last: lastID}
	go func() {
		defer func() { _ = res.Body.Close() }()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(line[6:]), &ev.data); err != nil {
					c.ended <- err
					return
				}
			case line == "" && ev.id != "":
				ev.at = time.Now()
				c.events <- ev
				ev = sseEvent{}
			}
		}
		c.ended <- errors.Join(sc.Err(), errors.New("stream ended"))
	}()
	return c
}

// next waits for an event for which ok holds, within d.
func (c *sseClient) next(t *testing.T, d time.Duration, what string, ok func(promotions.Response) bool) sseEvent {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-c.events:
			c.last = ev.id
			if ok(ev.data) {
				return ev
			}
		case err := <-c.ended:
			t.Fatalf("waiting for %s: %v", what, err)
		case <-deadline:
			t.Fatalf("no %s within %s", what, d)
		}
	}
}
