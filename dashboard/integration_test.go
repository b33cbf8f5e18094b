package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/footfall/footfall/collector"
	"github.com/footfall/footfall/dashboard"
	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/loader"
)

// The integration test runs the whole pipeline in-process on the real
// Kafka and ClickHouse: the data set goes through the collector's HTTP
// intake, Kafka and the loader into a fresh database, and the dashboard's
// answers are compared with what the model computes from the data set.

const (
	site      = "shop"
	writeKey  = "wk_dashboard_test"
	serverKey = "sk_dashboard_test"
	statsKey  = "sk_dashboard_test"
	otherKey  = "sk_other_site"
	otherSite = "elsewhere"
)

// pipeline is the test's collector, loader and dashboard.
type pipeline struct {
	t         *testing.T
	kc        kafka.Config
	conn      driver.Conn
	collector *httptest.Server
	api       *httptest.Server
	inspector *kafka.Inspector
	group     string
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	kc := testenv.Kafka(t)
	_, conn := testenv.ClickHouse(t)
	producer := testenv.Producer(t, kc, "footfall-dashboard-test")

	cc := collector.DefaultConfig()
	cc.Sites = collector.Sites{writeKey: site}
	// The data set spans weeks: only a server key's events keep the time
	// they were given.
	cc.ServerKeys = config.ServerKeys{serverKey: site}
	cc.TopicPrefix = kc.TopicPrefix
	cops := server.NewOps()
	c, err := collector.New(cc, collector.Deps{Publisher: producer, Ops: cops, Log: testenv.Log(t).With("component", "collector")})
	if err != nil {
		t.Fatal(err)
	}
	csrv := httptest.NewServer(server.Mux(cops, c.Handler(), false))
	t.Cleanup(csrv.Close)

	dc := dashboard.DefaultConfig()
	dc.Keys = dashboard.Keys{statsKey: site, otherKey: otherSite}
	dops := server.NewOps()
	d, err := dashboard.New(dc, dashboard.Deps{ClickHouse: clickhouse.ClientOf(conn), Ops: dops, Log: testenv.Log(t).With("component", "dashboard")})
	if err != nil {
		t.Fatal(err)
	}
	dsrv := httptest.NewServer(server.Mux(dops, d.Handler(), false))
	t.Cleanup(dsrv.Close)
	return &pipeline{t: t, kc: kc, conn: conn, collector: csrv, api: dsrv}
}

// send posts each visit's events (the late ones, or the others) as a
// shop's server loading history does (its server key, so that the events
// keep their times), each with its visit's User-Agent in its user_agent
// (a server key's request header is the sender's, not the visitor's), and
// fails unless all are accepted.
func (p *pipeline) send(visits []*visit, late bool) {
	p.t.Helper()
	for _, v := range visits {
		var envs []event.Event
		for _, e := range v.events {
			if e.late == late {
				env := e.envelope()
				env.UserAgent = v.agent.ua
				envs = append(envs, env)
			}
		}
		if len(envs) == 0 {
			continue
		}
		body, err := json.Marshal(map[string]any{"site": writeKey, "events": envs})
		if err != nil {
			p.t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPost, p.collector.URL+"/v1/batch", bytes.NewReader(body))
		if err != nil {
			p.t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		req.SetBasicAuth(serverKey, "")
		res, err := p.collector.Client().Do(req)
		if err != nil {
			p.t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(b), fmt.Sprintf(`"accepted":%d`, len(envs))) {
			p.t.Fatalf("collector answered %d %s for %s", res.StatusCode, b, v.session)
		}
	}
}

// startLoader runs a loader over everything sent, in large batches as a
// steady loader would; loaded waits until it has committed it all.
func (p *pipeline) startLoader() {
	p.t.Helper()
	inspector := testenv.Inspector(p.t, p.kc)
	p.inspector = inspector
	cfg := loader.DefaultConfig()
	cfg.Group = testenv.Name("dashboard")
	cfg.Batch = kafka.BatchPolicy{Count: 10000, Bytes: 16 << 20, Age: 2 * time.Second}
	p.t.Cleanup(func() {
		if err := inspector.DeleteGroup(cfg.Group); err != nil {
			p.t.Logf("cleanup: %v", err)
		}
	})
	producer := testenv.Producer(p.t, p.kc, "footfall-dashboard-dead-letters")
	sink := loader.NewClickHouse(clickhouse.ClientOf(p.conn))
	l, err := loader.New(cfg, loader.Deps{
		Kafka: p.kc, Sink: sink, Logs: sink, DeadLetters: producer,
		Ops: server.NewOps(), Log: testenv.Log(p.t).With("component", "loader"), Grace: 10 * time.Second,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := l.Run(ctx); err != nil {
			p.t.Errorf("loader: %v", err)
		}
	}()
	p.t.Cleanup(func() { cancel(); wg.Wait() })
	p.group = cfg.Group
}

// loaded waits until the loader has committed everything sent: then every
// event and every visit is in ClickHouse.
func (p *pipeline) loaded() {
	p.t.Helper()
	inspector := p.inspector
	topics := event.EventTopics(p.kc.TopicPrefix)
	testenv.Eventually(p.t, 90*time.Second, func() (bool, string) {
		spans, err := inspector.Spans(topics...)
		if err != nil {
			return false, err.Error()
		}
		var behind []string
		for _, s := range spans {
			if s.Newest == 0 {
				continue
			}
			committed, err := inspector.Committed(p.group, s.Topic)
			if err != nil {
				return false, err.Error()
			}
			if off, ok := committed[s.Partition]; !ok || off != s.Newest {
				behind = append(behind, fmt.Sprintf("%s/%d at %d of %d", s.Topic, s.Partition, off, s.Newest))
			}
		}
		return len(behind) == 0, "loader behind: " + strings.Join(behind, ", ")
	})
}

// rewritten asserts the loader rewrote at least n visits (the late
// events' visits): their old rows are in sessions with sign -1 beside
// the new ones, and in the rollups over it, whether merged or not.
func (p *pipeline) rewritten(n uint64) {
	p.t.Helper()
	var got uint64
	if err := p.conn.QueryRow(context.Background(), "SELECT count() FROM sessions WHERE sign < 0").Scan(&got); err != nil {
		p.t.Fatal(err)
	}
	if got < n {
		p.t.Fatalf("%d visits rewritten, want at least %d: the late events should change their visits", got, n)
	}
}

// get asks the Stats API with key and decodes the JSON answer.
func (p *pipeline) get(path string, params url.Values, key string) (int, any) {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.api.URL+path+"?"+params.Encode(), nil)
	if err != nil {
		p.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := p.api.Client().Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var body any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		p.t.Fatalf("%s?%s: %d, not JSON: %v", path, params.Encode(), res.StatusCode, err)
	}
	return res.StatusCode, body
}

// results asks the Stats API as the shop and returns the results.
func (p *pipeline) results(path string, params url.Values) any {
	p.t.Helper()
	params.Set("site_id", site)
	status, body := p.get(path, params, statsKey)
	m, ok := body.(map[string]any)
	if status != http.StatusOK || !ok {
		p.t.Fatalf("%s?%s = %d %v", path, params.Encode(), status, body)
	}
	if r, ok := m["results"]; ok {
		return r
	}
	return m
}

// same fails t with both sides as JSON when got is not want.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

func params(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// sortedKeys keeps test output stable.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
