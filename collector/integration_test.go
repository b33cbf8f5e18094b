package collector

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
)

// The integration tests drive a collector wired to the real Kafka of
// deploy/local as internal/app wires it (its handler beside the
// operational endpoints, readiness following the producer), and read back
// what the broker holds.

const (
	liveKey    = "wk_live"
	liveSite   = "shop"
	liveUA     = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	liveClient = "203.0.113.77" // behind the trusted proxy 127.0.0.1
	// liveIdentitySecret is a test value; real ones come from
	// FOOTFALL_COLLECTOR_IDENTITY_SECRETS.
	liveIdentitySecret = "test-identity-secret"
	// liveServerKey is a test value; real ones come from
	// FOOTFALL_COLLECTOR_SERVER_KEYS.
	liveServerKey = "sk_live"
	liveOrigin    = "https://shop.example"
)

// liveCollector is a collector on a real listener and a real producer.
type liveCollector struct {
	t     *testing.T
	srv   *httptest.Server
	kc    kafka.Config
	probe *kafkaProbe
}

func newLiveCollector(t *testing.T) *liveCollector {
	t.Helper()
	kc := testenv.Kafka(t)
	producer := testenv.Producer(t, kc, "footfall-collector-test")
	cfg := DefaultConfig()
	cfg.Sites = Sites{liveKey: liveSite}
	cfg.IdentitySecrets = config.Secrets{liveSite: liveIdentitySecret}
	cfg.ServerKeys = config.ServerKeys{liveServerKey: liveSite}
	cfg.AllowedOrigins = Origins{liveSite: {liveOrigin}}
	cfg.TopicPrefix = kc.TopicPrefix
	cfg.MaxBodyBytes = 8 << 10
	cfg.MaxEvents = 20
	cfg.Limits.MaxEventBytes = 1 << 10
	cfg.TrustedProxies = []string{"127.0.0.1/32"}
	ops := server.NewOps()
	// As app.Deps.Producer does for a module that asks for the producer.
	ops.AddCheck("kafka", producer.Ready)
	c, err := New(cfg, Deps{Publisher: producer, Ops: ops, Log: testenv.Log(t), Beacon: []byte("/*beacon*/")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.Mux(ops, c.Handler(), false))
	t.Cleanup(srv.Close)
	return &liveCollector{t: t, srv: srv, kc: kc, probe: newKafkaProbe(t, kc)}
}

// reply is one answer of POST /v1/batch.
type reply struct {
	status int
	header http.Header
	body   batchResponse
	raw    string
}

// post sends body as the beacon does (text/plain) unless header says
// otherwise; a header with an empty value is removed.
func (lc *liveCollector) post(body []byte, header map[string]string) reply {
	lc.t.Helper()
	req, err := http.NewRequest(http.MethodPost, lc.srv.URL+"/v1/batch", bytes.NewReader(body))
	if err != nil {
		lc.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.Header.Set("User-Agent", liveUA)
	req.Header.Set("X-Forwarded-For", liveClient)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := lc.srv.Client().Do(req)
	if err != nil {
		lc.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		lc.t.Fatal(err)
	}
	r := reply{status: res.StatusCode, header: res.Header, raw: string(b)}
	if err := json.Unmarshal(b, &r.body); err != nil {
		lc.t.Fatalf("answer %d is not JSON: %q", res.StatusCode, b)
	}
	return r
}

// metric scrapes /metrics for one series, e.g.
// footfall_collector_events_rejected_total{reason="empty_batch"}; absent is 0.
func (lc *liveCollector) metric(series string) float64 {
	lc.t.Helper()
	res, err := lc.srv.Client().Get(lc.srv.URL + "/metrics")
	if err != nil {
		lc.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				lc.t.Fatalf("metric %s: %v", series, err)
			}
			return f
		}
	}
	if err := sc.Err(); err != nil {
		lc.t.Fatal(err)
	}
	return 0
}

func newID(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func batchOf(key string, events ...string) []byte {
	return []byte(`{"site":"` + key + `","events":[` + strings.Join(events, ",") + `]}`)
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// record is one Kafka message as a consumer sees it, its value decoded.
type record struct {
	kafka.Record
	value map[string]any
}

// kafkaProbe reads the collector's topics straight from the broker.
type kafkaProbe struct {
	t      *testing.T
	topics []string
	in     *kafka.Inspector
}

func newKafkaProbe(t *testing.T, kc kafka.Config) *kafkaProbe {
	t.Helper()
	return &kafkaProbe{t: t, topics: event.AllTopics(kc.TopicPrefix), in: testenv.Inspector(t, kc)}
}

// total is the number of messages in every topic of the prefix. The
// producer is synchronous with acks=all, so once the collector has answered,
// whatever it produced is counted here.
func (p *kafkaProbe) total() int64 {
	p.t.Helper()
	n, err := p.in.Count(p.topics...)
	if err != nil {
		p.t.Fatal(err)
	}
	return n
}

// snapshot is what the topics held at one moment, by topic, each
// partition in offset order.
type snapshot map[string][]record

// snapshot reads every message the topics hold now; each must be JSON.
func (p *kafkaProbe) snapshot() snapshot {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	held, err := p.in.ReadAll(ctx, p.topics...)
	if err != nil {
		p.t.Fatal(err)
	}
	out := snapshot{}
	for topic, recs := range held {
		for _, rec := range recs {
			r := record{Record: rec}
			if err := json.Unmarshal(rec.Value, &r.value); err != nil {
				p.t.Fatalf("%s/%d@%d is not JSON: %q", topic, rec.Partition, rec.Offset, rec.Value)
			}
			out[topic] = append(out[topic], r)
		}
	}
	return out
}

// byID finds the message carrying event id on topic.
func (s snapshot) byID(topic, id string) (record, bool) {
	for _, r := range s[topic] {
		if r.value["id"] == id {
			return r, true
		}
	}
	return record{}, false
}

// TestIntegrationReady: against the real broker the collector is ready.
func TestIntegrationReady(t *testing.T) {
	lc := newLiveCollector(t)
	res, err := lc.srv.Client().Get(lc.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"ready"`) {
		t.Fatalf("/readyz: %d %s", res.StatusCode, body)
	}
}
