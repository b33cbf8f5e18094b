package enricher_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/migrations"
)

// The integration tests run enrichers against the real Kafka and PostgreSQL
// of deploy/local, with the demo shop's catalog: searches and clicks go in
// as the collector writes them, user_promotions is what comes out.

const site = "demo"

// rig is one test's topics, database and Kafka clients.
type rig struct {
	t        *testing.T
	kc       kafka.Config
	pool     *pgxpool.Pool
	producer sarama.SyncProducer
	client   sarama.Client
	admin    sarama.ClusterAdmin
}

func newRig(t *testing.T) *rig {
	t.Helper()
	kc := testenv.Kafka(t)
	pool := testenv.Postgres(t)
	if err := migrations.SeedDemo(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	producer := testenv.Producer(t, kc, "footfall-enricher-test")
	sc := sarama.NewConfig()
	v, err := sarama.ParseKafkaVersion(kc.Version)
	if err != nil {
		t.Fatal(err)
	}
	sc.Version = v
	client, err := sarama.NewClient(kc.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := admin.Close(); err != nil { // closes client too
			t.Errorf("close kafka admin: %v", err)
		}
	})
	return &rig{t: t, kc: kc, pool: pool, producer: producer, client: client, admin: admin}
}

// group returns a fresh consumer group name, deleted from Kafka when the
// test ends (after every enricher of the test has left it).
func (r *rig) group() string {
	g := testenv.Name("enricher")
	r.t.Cleanup(func() {
		if err := r.admin.DeleteConsumerGroup(g); err != nil {
			r.t.Logf("cleanup: delete consumer group %s: %v", g, err)
		}
	})
	return g
}

// config is the enricher's default configuration, made quick for tests.
func config(group string) enricher.Config {
	cfg := enricher.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Group = group
	cfg.Batch.Age = 200 * time.Millisecond // resends produced together share a batch
	return cfg
}

// startEnricher runs an enricher until the returned stop is called (or the
// test ends). stop waits for Run and fails the test if it returned an error.
func (r *rig) startEnricher(cfg enricher.Config) (stop func()) {
	r.t.Helper()
	e, err := enricher.New(cfg, r.kc, r.pool, server.NewOps(), testenv.Log(r.t).With("component", "enricher"))
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, nil) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					r.t.Errorf("enricher Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				r.t.Fatal("enricher did not stop within 30s of its context ending")
			}
		})
	}
	r.t.Cleanup(stop)
	return stop
}

// produce sends events as the collector does.
func (r *rig) produce(events ...*event.Event) {
	r.t.Helper()
	msgs := make([]*sarama.ProducerMessage, len(events))
	for i, e := range events {
		v, err := json.Marshal(e)
		if err != nil {
			r.t.Fatal(err)
		}
		msgs[i] = &sarama.ProducerMessage{
			Topic: event.Topic(r.kc.TopicPrefix, e.Type),
			Key:   sarama.StringEncoder(e.Key()),
			Value: sarama.ByteEncoder(v),
		}
	}
	if err := r.producer.SendMessages(msgs); err != nil {
		r.t.Fatalf("produce %d events: %v", len(msgs), err)
	}
}

// topics are the topics an enricher reads.
func (r *rig) topics() []string {
	return []string{
		event.Topic(r.kc.TopicPrefix, event.Search),
		event.Topic(r.kc.TopicPrefix, event.Click),
		event.Topic(r.kc.TopicPrefix, event.Identify),
	}
}

// waitApplied waits until the offsets group stored in PostgreSQL reach the
// end of every partition that holds messages: everything produced so far
// has been applied, so user_promotions is final for the test.
func (r *rig) waitApplied(group string) {
	r.t.Helper()
	testenv.Eventually(r.t, 20*time.Second, func() (bool, string) {
		stored := map[string]int64{}
		rows, err := r.pool.Query(context.Background(), `SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1`, group)
		if err != nil {
			return false, err.Error()
		}
		var topic string
		var p int32
		var off int64
		if _, err := pgx.ForEachRow(rows, []any{&topic, &p, &off}, func() error {
			stored[fmt.Sprintf("%s/%d", topic, p)] = off
			return nil
		}); err != nil {
			return false, err.Error()
		}
		var behind []string
		for _, topic := range r.topics() {
			parts, err := r.client.Partitions(topic)
			if err != nil {
				return false, err.Error()
			}
			for _, p := range parts {
				end, err := r.client.GetOffset(topic, p, sarama.OffsetNewest)
				if err != nil {
					return false, err.Error()
				}
				if tp := fmt.Sprintf("%s/%d", topic, p); end > 0 && stored[tp] != end {
					behind = append(behind, fmt.Sprintf("%s stored %d of %d", tp, stored[tp], end))
				}
			}
		}
		sort.Strings(behind)
		return len(behind) == 0, strings.Join(behind, ", ")
	})
}

// userPromotion is one user_promotions row.
type userPromotion struct {
	Score       float64
	Reason      string
	LastEventAt time.Time
	ExpiresAt   time.Time
}

// promotions returns a visitor's user_promotions rows by promotion id.
func (r *rig) promotions(user string) map[string]userPromotion {
	r.t.Helper()
	rows, err := r.pool.Query(context.Background(), `
		SELECT promotion_id, score, reason, last_event_at, expires_at
		FROM user_promotions WHERE site_id = $1 AND user_key = $2`, site, user)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]userPromotion{}
	var id string
	var p userPromotion
	if _, err := pgx.ForEachRow(rows, []any{&id, &p.Score, &p.Reason, &p.LastEventAt, &p.ExpiresAt}, func() error {
		out[id] = p
		return nil
	}); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// scores returns a visitor's score per promotion id.
func (r *rig) scores(user string) map[string]float64 {
	r.t.Helper()
	out := map[string]float64{}
	for id, p := range r.promotions(user) {
		out[id] = p.Score
	}
	return out
}

// newID returns a random UUID v4, as the beacon makes them.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// search is a visitor's site search, stamped as the collector stamps it.
func search(visitor, keyword string) *event.Event {
	now := time.Now()
	url := "https://shop.example/demo/search.html?q=" + strings.ReplaceAll(strings.TrimSpace(keyword), " ", "+")
	return &event.Event{
		ID: newID(), Type: event.Search, TS: now.UnixMilli(), AnonymousID: visitor,
		Page:   &event.Page{URL: url, Path: "/demo/search.html"},
		Search: &event.SearchDetail{Keyword: keyword},
		SiteID: site, ReceivedAt: now.UnixMilli(),
		PageURL: url, SearchKeyword: keyword, Date: now.UnixMilli(),
	}
}

// click is a visitor's click on a link to href.
func click(visitor, href string) *event.Event {
	now := time.Now()
	return &event.Event{
		ID: newID(), Type: event.Click, TS: now.UnixMilli(), AnonymousID: visitor,
		Page:   &event.Page{URL: "https://shop.example/demo/index.html", Path: "/demo/index.html"},
		Click:  &event.ClickDetail{Selector: "a.promo", Href: href, Tag: "a"},
		SiteID: site, ReceivedAt: now.UnixMilli(),
	}
}
