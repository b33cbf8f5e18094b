package collector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/footfall/footfall/collector"
	"github.com/footfall/footfall/internal/app"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/kafka/kafkatest"
	"github.com/footfall/footfall/internal/testenv"
)

// TestCollectorStartsWithoutKafkaAndProceedsWhenItComes runs the collector
// module as `footfall collector` runs it (internal/app.Process) with Kafka
// absent at start: the process stays up and says it is not ready, refuses
// batches with a Retry-After, takes them once Kafka comes, and says it is
// not ready again when Kafka goes. kfake stands in for Kafka, on a port
// chosen before it exists, because the test brings it and takes it away.
func TestCollectorStartsWithoutKafkaAndProceedsWhenItComes(t *testing.T) {
	port := freePort(t)
	const grace = 10 * time.Second
	p := app.New(collector.Module())
	fs := flag.NewFlagSet("collector", flag.ContinueOnError)
	p.RegisterFlags(fs)
	if err := fs.Parse([]string{
		"--collector-addr=127.0.0.1:0",
		"--kafka-brokers=127.0.0.1:" + strconv.Itoa(port),
		"--kafka-version=3.0.0",
		"--collector-sites=shop=wk_test",
		"--shutdown-grace=" + grace.String(),
		// Without the spool, Kafka away is a 503 (with it, spooling_*_test.go).
		"--collector-spool=false",
	}); err != nil {
		t.Fatal(err)
	}
	listening := make(chan net.Addr, 1)
	p.Listening = func(module string, addr net.Addr) {
		if module == "collector" {
			listening <- addr
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, exited := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(exited)
		done <- p.Run(ctx, testenv.Log(t))
	}()
	// However the test ends, the process stops before it does: it logs
	// through t.
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(grace + 5*time.Second):
			t.Errorf("the process did not stop within %s", grace+5*time.Second)
		}
	})
	var c *moduleClient
	select {
	case addr := <-listening:
		c = &moduleClient{t: t, base: "http://" + addr.String(), http: &http.Client{Timeout: 10 * time.Second}}
	case err := <-done:
		t.Fatalf("Run returned before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the collector did not listen within 10s")
	}
	running := func() {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("the process exited: %v", err)
		default:
		}
	}

	// 1. Kafka absent: up, not ready, and batches are refused for later.
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		code, body := c.get("/readyz")
		// Once a connection attempt has failed, the reason names the broker.
		return code == http.StatusServiceUnavailable && strings.Contains(body, `"kafka"`) &&
			strings.Contains(body, "127.0.0.1:"+strconv.Itoa(port)), "/readyz: " + strconv.Itoa(code) + " " + body
	})
	if code, _ := c.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with Kafka absent: %d, want 200", code)
	}
	absentID := "0b6f1c2e-4a1d-4f7e-9c55-3f2a1b0c9d81"
	res := c.post(absentID)
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" || res.body.Error != "kafka_unavailable" || res.body.Accepted != 0 {
		t.Fatalf("POST /v1/batch with Kafka absent: %d Retry-After %q %s, want 503 kafka_unavailable with a Retry-After",
			res.status, res.header.Get("Retry-After"), res.raw)
	}
	running()

	// 2. Kafka comes: ready, and a batch is accepted and stored.
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, event.AllTopics("footfall")...))
	if err != nil {
		t.Fatalf("start kfake on port %d: %v", port, err)
	}
	defer cluster.Close()
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		code, body := c.get("/readyz")
		return code == http.StatusOK, "/readyz after Kafka came: " + strconv.Itoa(code) + " " + body
	})
	id := "0b6f1c2e-4a1d-4f7e-9c55-3f2a1b0c9d82"
	if res := c.post(id); res.status != http.StatusOK || res.body.Accepted != 1 {
		t.Fatalf("POST /v1/batch once ready: %d %s, want 200 with 1 accepted", res.status, res.raw)
	}
	topic := event.Topic("footfall", event.Pageview)
	stored := readTopic(t, kafkatest.Config(cluster.ListenAddrs()), topic)
	var found []kafka.Record
	for _, r := range stored {
		var v map[string]any
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("%s holds a record that is not JSON: %q", topic, r.Value)
		}
		if v["id"] == absentID {
			t.Errorf("the batch refused while Kafka was absent is in %s", topic)
		}
		if v["id"] == id && v["site_id"] == "shop" {
			found = append(found, r)
		}
	}
	if len(found) != 1 || string(found[0].Key) != "shop:anon-1" {
		t.Fatalf("%s holds %d records of event %s (want 1, keyed shop:anon-1): %v", topic, len(found), id, stored)
	}

	// 3. Kafka goes: not ready again, naming kafka.
	cluster.Close()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		code, body := c.get("/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, `"kafka"`), "/readyz after Kafka went: " + strconv.Itoa(code) + " " + body
	})
	running()

	// 4. Shutdown: Run returns nil within the grace.
	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if took := time.Since(stopped); took > grace {
			t.Errorf("shutdown took %s, over the grace of %s", took, grace)
		}
	case <-time.After(grace + 5*time.Second):
		t.Fatalf("Run did not return within %s of the shutdown", grace+5*time.Second)
	}
}

// freePort returns a port of 127.0.0.1 on which nothing listens.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// readTopic returns what topic holds now.
func readTopic(t *testing.T, kc kafka.Config, topic string) []kafka.Record {
	t.Helper()
	in, err := kafka.NewInspector(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := in.Close(); err != nil {
			t.Errorf("close inspector: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	held, err := in.ReadAll(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return held[topic]
}

// moduleClient talks to a collector process over HTTP.
type moduleClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func (c *moduleClient) get(path string) (int, string) {
	c.t.Helper()
	res, err := c.http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

type moduleReply struct {
	status int
	header http.Header
	raw    string
	body   struct {
		Accepted int    `json:"accepted"`
		Error    string `json:"error"`
	}
}

// post sends a batch of one pageview with event id id.
func (c *moduleClient) post(id string) moduleReply {
	c.t.Helper()
	body := `{"site":"wk_test","events":[{"id":"` + id + `","type":"pageview","ts":1700000000000,"anonymous_id":"anon-1"}]}`
	res, err := c.http.Post(c.base+"/v1/batch", "text/plain;charset=UTF-8", bytes.NewReader([]byte(body)))
	if err != nil {
		c.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	r := moduleReply{status: res.StatusCode, header: res.Header, raw: string(b)}
	if err := json.Unmarshal(b, &r.body); err != nil {
		c.t.Fatalf("answer %d is not JSON: %q", res.StatusCode, b)
	}
	return r
}
