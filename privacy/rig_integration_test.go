package privacy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/collector"
	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/loader"
	"github.com/footfall/footfall/migrations"
	"github.com/footfall/footfall/privacy"
	"github.com/footfall/footfall/promotions"
)

// The integration tests run the pipeline in-process against the real
// Kafka, PostgreSQL and ClickHouse of deploy/local: a collector, a loader,
// an enricher and a live promotions instance, each following the
// suppressions topic as its module does, and the forget API.

const (
	site    = "demo" // has the demo catalog
	control = "control"
	// writeKey and serverKey are test values; real ones come from
	// FOOTFALL_COLLECTOR_SITES and FOOTFALL_PRIVACY_SERVER_KEYS.
	writeKey  = "wk_demo"
	serverKey = "sk_demo"
)

type rig struct {
	t        *testing.T
	kc       kafka.Config
	pool     *pgxpool.Pool
	conn     driver.Conn
	producer *kafka.Producer
	in       *kafka.Inspector
	forget   *privacy.Forgetter
	// collectorSup, loaderSup and enricherSup are the collector's, the
	// loader's and the enricher's suppression sets, each following the
	// topic on its own.
	collectorSup    *privacy.Suppressions
	loaderSup       *privacy.Suppressions
	enricherSup     *privacy.Suppressions
	collectorOps    *server.Ops
	loaderOps       *server.Ops
	privacyOps      *server.Ops
	collectorURL    string
	promotionsURL   string
	privacyURL      string
	loaderGroup     string
	enricherGroupID string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	kc := testenv.Kafka(t)
	pool := testenv.Postgres(t)
	ctx := context.Background()
	if err := migrations.SeedDemo(ctx, pool); err != nil {
		t.Fatal(err)
	}
	_, conn := testenv.ClickHouse(t)
	r := &rig{
		t: t, kc: kc, pool: pool, conn: conn,
		producer: testenv.Producer(t, kc, "footfall-privacy-test"), in: testenv.Inspector(t, kc),
		loaderGroup: testenv.Name("loader"), enricherGroupID: testenv.Name("enricher"),
	}
	t.Cleanup(func() {
		for _, g := range []string{r.loaderGroup, r.enricherGroupID} {
			if err := r.in.DeleteGroup(g); err != nil {
				t.Logf("cleanup: %v", err)
			}
		}
	})
	log := testenv.Log(t)
	follow := func() *privacy.Suppressions {
		s := privacy.Follow(kc, log)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	chc := clickhouse.ClientOf(conn)

	lcfg := loader.DefaultConfig()
	lcfg.Group, lcfg.Batch.Age = r.loaderGroup, 200*time.Millisecond
	r.loaderOps = server.NewOps()
	sink := loader.NewClickHouse(chc)
	r.loaderSup = follow()
	l, err := loader.New(lcfg, loader.Deps{Kafka: kc, Sink: sink, Logs: sink, DeadLetters: r.producer,
		Ops: r.loaderOps, Log: log.With("component", "loader"), Grace: 10 * time.Second, Suppressions: r.loaderSup})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, "loader", 30*time.Second, l.Run)

	ecfg := enricher.DefaultConfig()
	ecfg.Group, ecfg.Batch.Age = r.enricherGroupID, 100*time.Millisecond
	r.enricherSup = follow()
	e, err := enricher.New(ecfg, enricher.Deps{Kafka: kc, Pool: pool, DeadLetters: r.producer, Updates: r.producer,
		Ops: server.NewOps(), Log: log.With("component", "enricher"), Grace: 10 * time.Second, Suppressions: r.enricherSup})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, "enricher", 30*time.Second, e.Run)

	ccfg := collector.DefaultConfig()
	ccfg.Sites = collector.Sites{writeKey: site}
	ccfg.TopicPrefix = kc.TopicPrefix
	r.collectorOps, r.collectorSup = server.NewOps(), follow()
	c, err := collector.New(ccfg, collector.Deps{Publisher: r.producer, Ops: r.collectorOps, Log: log.With("component", "collector"),
		Beacon: []byte("/*beacon*/"), Suppressions: r.collectorSup})
	if err != nil {
		t.Fatal(err)
	}
	r.collectorURL = r.serve(r.collectorOps, c.Handler())

	pcfg := promotions.DefaultConfig()
	pcfg.Resync = 200 * time.Millisecond
	pops := server.NewOps()
	p, err := promotions.NewLive(pcfg, promotions.Deps{Pool: pool, Kafka: kc, Ops: pops, Log: log.With("component", "promotions")})
	if err != nil {
		t.Fatal(err)
	}
	r.promotionsURL = r.serve(pops, p.Handler())
	testenv.Start(t, "promotions", 10*time.Second, p.Run)

	opts := privacy.DefaultOptions()
	opts.LoaderGroup, opts.EnricherGroup, opts.ConsumerWait, opts.MutationWait = r.loaderGroup, r.enricherGroupID, 30*time.Second, time.Minute
	r.forget = privacy.New(opts, privacy.Deps{Kafka: kc, Publisher: r.producer, Pool: pool, ClickHouse: chc, Suppressions: follow(), Log: log.With("component", "forget")})
	pcfgAPI := privacy.DefaultConfig()
	pcfgAPI.ServerKeys = map[string]string{serverKey: site}
	pcfgAPI.Options = opts
	r.privacyOps = server.NewOps()
	api, err := privacy.NewAPI(pcfgAPI, privacy.APIDeps{Forgetter: r.forget, Pool: pool, Ops: r.privacyOps, Log: log.With("component", "privacy")})
	if err != nil {
		t.Fatal(err)
	}
	r.privacyURL = r.serve(r.privacyOps, api.Handler())
	testenv.Start(t, "privacy", 10*time.Second, api.Run)
	return r
}

func (r *rig) serve(ops *server.Ops, h http.Handler) string {
	srv := httptest.NewServer(server.Mux(ops, h, false))
	r.t.Cleanup(srv.Close)
	return srv.URL
}

// visitor is one device of a test visitor.
type visitor struct {
	anon, user, session string
}

// events are a visitor's page views, a search and (with a user) an
// identify, at t, as the collector stamps them.
func (v visitor) events(s string, t time.Time) []*event.Event {
	base := func(typ event.Type, at time.Time) *event.Event {
		return &event.Event{
			ID: testenv.UUID(), Type: typ, TS: at.UnixMilli(), ReceivedAt: at.UnixMilli(), SiteID: s,
			AnonymousID: v.anon, SessionID: v.session, Browser: "Chrome", OS: "Linux", Device: "desktop",
			Page: &event.Page{URL: "https://shop.example/", Path: "/"},
		}
	}
	var out []*event.Event
	if v.user != "" {
		id := base(event.Identify, t)
		id.UserID, id.UserVerified = v.user, true
		out = append(out, id)
	}
	out = append(out, base(event.Pageview, t.Add(time.Second)))
	p := base(event.Pageview, t.Add(2*time.Second))
	p.Page = &event.Page{URL: "https://shop.example/p/humidifiers", Path: "/p/humidifiers"}
	out = append(out, p)
	srch := base(event.Search, t.Add(3*time.Second))
	srch.Search = &event.SearchDetail{Keyword: "humidifier"}
	event.Derive(srch)
	out = append(out, srch)
	return out
}

// produce sends events as the collector does.
func (r *rig) produce(events ...*event.Event) {
	r.t.Helper()
	testenv.Publish(r.t, r.producer, r.kc.TopicPrefix, events...)
}

// produceLog puts a log record on the logs topic, as the collector does.
func (r *rig) produceLog(s, body string, attrs map[string]string) {
	r.t.Helper()
	now := time.Now().UnixMilli()
	v, err := json.Marshal(event.LogRecord{V: event.LogRecordVersion, ID: testenv.UUID(), SiteID: s, Time: now, Service: "checkout",
		SeverityText: "INFO", SeverityNumber: 9, Body: body, Attributes: attrs, ReceivedAt: now})
	if err != nil {
		r.t.Fatal(err)
	}
	testenv.PublishRecords(r.t, r.producer, kafka.Record{Topic: event.LogsTopic(r.kc.TopicPrefix), Key: []byte(s + ":checkout"), Value: v})
}

// insertLog writes a log record as the loader does.
func (r *rig) insertLog(s, body string, attrs map[string]string) {
	r.t.Helper()
	var keys, values []string
	for k, v := range attrs {
		keys, values = append(keys, k), append(values, v)
	}
	now := time.Now().UTC().Truncate(time.Second)
	ctx := context.Background()
	b, err := r.conn.PrepareBatch(ctx, "INSERT INTO logs (time, site_id, service, severity, body, attributes.key, attributes.value, received_at)")
	if err != nil {
		r.t.Fatal(err)
	}
	if err := b.Append(now, s, "checkout", "INFO", body, keys, values, now); err != nil {
		r.t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) count(q string, args ...any) uint64 {
	r.t.Helper()
	var n uint64
	if err := r.conn.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		r.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// promotionsOf asks the live promotions instance about user and returns
// the reasons of its answer.
func (r *rig) promotionsOf(user string) []string {
	r.t.Helper()
	res, err := http.Get(r.promotionsURL + "/v1/promotions?site=" + site + "&user=" + user)
	if err != nil {
		r.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var body struct {
		Promotions []struct {
			Reason string `json:"reason"`
		} `json:"promotions"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		r.t.Fatalf("promotions of %s: %d %v", user, res.StatusCode, err)
	}
	var out []string
	for _, p := range body.Promotions {
		out = append(out, p.Reason)
	}
	return out
}

func personal(reasons []string) bool {
	for _, r := range reasons {
		if r != "default" {
			return true
		}
	}
	return false
}

// post sends one pageview of anon to the collector and returns the status
// and the event's id.
func (r *rig) post(anon string) (int, string) {
	r.t.Helper()
	id := testenv.UUID()
	body := fmt.Sprintf(`{"site":%q,"events":[{"id":%q,"type":"pageview","ts":%d,"anonymous_id":%q,"session_id":"s-late","page":{"url":"https://shop.example/","path":"/"}}]}`,
		writeKey, id, time.Now().UnixMilli(), anon)
	res, err := http.Post(r.collectorURL+"/v1/batch", "application/json", strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode, id
}

// setsSay waits until the collector's, the loader's and the enricher's
// suppression sets all say that each of ids is suppressed (or, with
// suppressed false, that none is). The Forgetter returns once its own set
// has read what it published; the others read the topic on their own.
func (r *rig) setsSay(suppressed bool, ids ...string) {
	r.t.Helper()
	sets := map[string]*privacy.Suppressions{"collector": r.collectorSup, "loader": r.loaderSup, "enricher": r.enricherSup}
	testenv.Eventually(r.t, 10*time.Second, func() (bool, string) {
		for name, s := range sets {
			for _, id := range ids {
				if s.Suppressed(site, id, "") != suppressed {
					return false, fmt.Sprintf("the %s's set says %s suppressed %v, want %v", name, id, !suppressed, suppressed)
				}
			}
		}
		return true, ""
	})
}

// loaded waits until the loader's group has committed every record of the
// event topics and the logs topic. The loader commits a batch after its
// events, the visits it changed (written after them) and their rollups
// are in, and after counting what it dropped: counts of rows or visits
// can be right while a visit's last row is still to come.
func (r *rig) loaded() {
	r.t.Helper()
	topics := append(event.EventTopics(r.kc.TopicPrefix), event.LogsTopic(r.kc.TopicPrefix))
	testenv.Eventually(r.t, 60*time.Second, func() (bool, string) {
		spans, err := r.in.Spans(topics...)
		if err != nil {
			return false, err.Error()
		}
		committed := map[string]map[int32]int64{}
		var behind []string
		for _, s := range spans {
			if s.Newest == s.Oldest {
				continue
			}
			if committed[s.Topic] == nil {
				if committed[s.Topic], err = r.in.Committed(r.loaderGroup, s.Topic); err != nil {
					return false, err.Error()
				}
			}
			if off, ok := committed[s.Topic][s.Partition]; !ok || off != s.Newest {
				behind = append(behind, fmt.Sprintf("%s/%d at %d of %d", s.Topic, s.Partition, off, s.Newest))
			}
		}
		return len(behind) == 0, "loader behind: " + strings.Join(behind, ", ")
	})
}

// inKafka reports whether an event with id is on the pageview topic.
func (r *rig) inKafka(id string) bool {
	r.t.Helper()
	recs, err := r.in.ReadAll(context.Background(), event.Topic(r.kc.TopicPrefix, event.Pageview))
	if err != nil {
		r.t.Fatal(err)
	}
	for _, rec := range recs[event.Topic(r.kc.TopicPrefix, event.Pageview)] {
		if bytes.Contains(rec.Value, []byte(id)) {
			return true
		}
	}
	return false
}

// metric sums the series of name in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
