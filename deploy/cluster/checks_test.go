package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/pgoffsets"
	"github.com/footfall/footfall/internal/testenv"
)

// checkClickHouse: once the loaders have drained, every event answered 2xx
// is in events (read through the Distributed table) exactly once, and
// every visit is one row of sessions with its five events.
func (c *cluster) checkClickHouse(s sent) {
	t := c.t
	ctx := context.Background()
	conn, err := clickhouse.Open(ctx, c.chConfig(), c.chDatabase)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	counts := map[string]uint64{}
	testenv.Eventually(t, 3*time.Minute, func() (bool, string) {
		if lag := c.lag(c.loaderGroup, false); lag != 0 {
			return false, fmt.Sprintf("the loaders are %d records behind", lag)
		}
		counts = map[string]uint64{}
		rows, err := conn.Query(ctx, "SELECT id, count() FROM events WHERE site_id = 'demo' GROUP BY id")
		if err != nil {
			return false, err.Error()
		}
		for rows.Next() {
			var id string
			var n uint64
			if err := rows.Scan(&id, &n); err != nil {
				return false, err.Error()
			}
			counts[id] = n
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return false, err.Error()
		}
		missing := 0
		for id := range s.events {
			if counts[id] == 0 {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d events answered 2xx are not in ClickHouse", missing, len(s.events))
	})
	var rows, twice, unknown int
	for id, n := range counts {
		rows += int(n)
		if n > 1 {
			twice++
		}
		if _, ok := s.events[id]; !ok {
			unknown++
		}
	}
	t.Logf("ClickHouse events (Distributed, 2 shards x 2 replicas): %d rows, %d ids; answered 2xx %d, all present; stored twice %d; ids never answered 2xx (a collector took them but the answer was lost) %d",
		rows, len(counts), len(s.events), twice, unknown)
	if twice > 0 {
		t.Errorf("%d events are stored more than once", twice)
	}
	for _, node := range strings.Split(c.chAddrs, ",") {
		cfg := c.chConfig()
		cfg.Addr = node
		n, err := countLocal(ctx, cfg)
		if err != nil {
			t.Errorf("%s: %v", node, err)
			continue
		}
		t.Logf("  %s events_local: %d rows", node, n)
	}

	// Each visit is one live row of sessions, counting its five events:
	// the loaders fold a visit whose events came on five topics in one
	// member (co-partitioned assignment), across the kill and restart.
	visits := map[string]int{}
	for _, e := range s.events {
		visits[e.session]++
	}
	type visit struct {
		Session   string `ch:"session_id"`
		Live      int64  `ch:"live"`
		Pageviews int64  `ch:"pageviews"`
		Events    int64  `ch:"events"`
	}
	// Without an insert quorum (TestClusterForget) the replica a query
	// reads may not have fetched a visit's last row yet, though the
	// loaders have committed it: wait until every visit is right, not
	// only until each has a row.
	var got []visit
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		got = nil
		err := conn.Select(ctx, &got, `SELECT session_id, sum(sign) AS live, sum(sign * pageviews) AS pageviews, sum(sign * events) AS events
			FROM sessions WHERE site_id = 'demo' GROUP BY session_id`)
		if err != nil {
			return false, err.Error()
		}
		var wrong []string
		for _, v := range got {
			if n, ok := visits[v.Session]; ok && (v.Live != 1 || v.Pageviews != 3 || v.Events != int64(n)) {
				wrong = append(wrong, fmt.Sprintf("visit %s: live %d, pageviews %d, events %d; want 1, 3, %d", v.Session, v.Live, v.Pageviews, v.Events, n))
			}
		}
		return len(got) >= len(visits) && len(wrong) == 0, fmt.Sprintf("%d visits in sessions, want %d; %d of them wrong: %s",
			len(got), len(visits), len(wrong), strings.Join(wrong[:min(5, len(wrong))], "; "))
	})
	t.Logf("ClickHouse sessions: %d visits, none of them wrong", len(got))
}

func countLocal(ctx context.Context, cfg clickhouse.Config) (uint64, error) {
	conn, err := clickhouse.Open(ctx, cfg, cfg.Database)
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.Close() }()
	var n uint64
	err = conn.QueryRow(ctx, "SELECT count() FROM events_local WHERE site_id = 'demo'").Scan(&n)
	return n, err
}

// checkPostgres: every search answered 2xx is scored once (the enricher's
// processed_events), and its visitor has the humidifier promotion.
func (c *cluster) checkPostgres(s sent) {
	t := c.t
	ctx := context.Background()
	pool := c.postgres()
	searches := 0
	for _, e := range s.events {
		if e.typ == "search" {
			searches++
		}
	}
	processed := map[string]bool{}
	testenv.Eventually(t, 2*time.Minute, func() (bool, string) {
		if lag := c.lag(c.enricherGroup, true); lag != 0 {
			return false, fmt.Sprintf("the enrichers are %d records behind", lag)
		}
		processed = map[string]bool{}
		rows, err := pool.Query(ctx, "SELECT event_id::text FROM processed_events WHERE site_id = 'demo'")
		if err != nil {
			return false, err.Error()
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return false, err.Error()
			}
			processed[id] = true
		}
		rows.Close()
		missing := 0
		for id, e := range s.events {
			if e.typ == "search" && !processed[id] {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d searches answered 2xx not scored", missing, searches)
	})
	var visitors int
	var score float64
	err := pool.QueryRow(ctx, `SELECT count(DISTINCT user_key), coalesce(sum(score), 0) FROM user_promotions
		WHERE site_id = 'demo' AND promotion_id = 'humidifier-deal'`).Scan(&visitors, &score)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL: %d searches answered 2xx, %d processed_events rows (each event once: primary key), %d visitors with the humidifier deal, total score %.1f",
		searches, len(processed), visitors, score)
	if visitors < searches {
		t.Errorf("%d visitors have the humidifier deal, want every one of the %d who searched", visitors, searches)
	}
}

// checkPromotions: both promotions instances answer the same for a visitor
// who searched.
func (c *cluster) checkPromotions(s sent) {
	var visitor string
	for _, e := range s.events {
		if e.typ == "search" {
			visitor = e.visitor
			break
		}
	}
	answers := map[string]string{}
	for _, name := range []string{"promotions-1", "promotions-2"} {
		u := fmt.Sprintf("http://127.0.0.1:%d/v1/promotions?site=demo&user=%s", ports[name], url.QueryEscape(visitor))
		testenv.Eventually(c.t, 30*time.Second, func() (bool, string) {
			res, err := httpClient.Get(u)
			if err != nil {
				return false, err.Error()
			}
			defer func() { _ = res.Body.Close() }()
			var body struct {
				Promotions []struct {
					ID string `json:"id"`
				} `json:"promotions"`
			}
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK || len(body.Promotions) == 0 {
				return false, fmt.Sprintf("%s: %d %v", name, res.StatusCode, err)
			}
			answers[name] = body.Promotions[0].ID
			return answers[name] == "humidifier-deal", fmt.Sprintf("%s answers %s first", name, answers[name])
		})
	}
	c.t.Logf("promotions: both instances show visitor %s the %s first", visitor, answers["promotions-1"])
}

// lag is how many records of the event topics a group has not committed:
// in Kafka, or with inPostgres in consumer_offsets, where the enricher
// keeps them with its writes.
func (c *cluster) lag(group string, inPostgres bool) int64 {
	in, err := kafka.NewInspector(c.kafkaConfig())
	if err != nil {
		return -1
	}
	defer func() { _ = in.Close() }()
	spans, err := in.Spans(event.EventTopics(c.prefix)...)
	if err != nil {
		return -1
	}
	var lag int64
	done := map[string]map[int32]int64{}
	for _, s := range spans {
		if done[s.Topic] == nil {
			if inPostgres {
				done[s.Topic], err = pgoffsets.Next(context.Background(), c.postgres(), group, s.Topic)
			} else {
				done[s.Topic], err = in.Committed(group, s.Topic)
			}
			if err != nil {
				return -1
			}
		}
		if at, ok := done[s.Topic][s.Partition]; ok {
			lag += s.Newest - at
		} else {
			lag += s.Newest - s.Oldest
		}
	}
	return lag
}

func (c *cluster) kafkaConfig() kafka.Config {
	kc := kafka.DefaultConfig()
	kc.Brokers = c.kafka
	kc.TopicPrefix = c.prefix
	return kc
}

// ---- group membership --------------------------------------------------------

// sample is one look at a group: its state, and how many partitions each
// member holds.
type sample struct {
	at    time.Time
	state string
	held  []int // partitions per member
}

type groupWatch struct {
	stopC   chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	samples map[string][]sample
}

// watchGroups describes groups every 500 ms until stop.
func watchGroups(t *testing.T, brokers []string, groups ...string) *groupWatch {
	w := &groupWatch{stopC: make(chan struct{}), done: make(chan struct{}), samples: map[string][]sample{}}
	go func() {
		defer close(w.done)
		var admin sarama.ClusterAdmin
		defer func() {
			if admin != nil {
				_ = admin.Close()
			}
		}()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stopC:
				return
			case <-tick.C:
			}
			if admin == nil {
				var err error
				if admin, err = sarama.NewClusterAdmin(brokers, sarama.NewConfig()); err != nil {
					continue
				}
			}
			descs, err := admin.DescribeConsumerGroups(groups)
			if err != nil {
				_ = admin.Close()
				admin = nil
				continue
			}
			w.mu.Lock()
			for _, d := range descs {
				if d.Err != sarama.ErrNoError {
					// The coordinator moving (a broker down): no look.
					continue
				}
				s := sample{at: time.Now(), state: d.State}
				for _, m := range d.Members {
					a, err := m.GetMemberAssignment()
					n := 0
					if err == nil && a != nil {
						for _, parts := range a.Topics {
							n += len(parts)
						}
					}
					s.held = append(s.held, n)
				}
				sort.Ints(s.held)
				w.samples[d.GroupId] = append(w.samples[d.GroupId], s)
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *groupWatch) stop() { close(w.stopC); <-w.done }

// report says, per group, how long it was stable with every member holding
// partitions, how long it rebalanced, and what it was at the end; and
// fails if a stable group ever had a member without partitions, or did
// not end with two members holding partitions.
func (w *groupWatch) report(t *testing.T) {
	for group, ss := range w.samples {
		var stable, rebalancing, idle int
		for _, s := range ss {
			switch {
			case s.state != "Stable":
				rebalancing++
			case len(s.held) == 0 || s.held[0] == 0:
				idle++
			default:
				stable++
			}
		}
		last := ss[len(ss)-1]
		t.Logf("group %s: %d looks (every 500 ms): %d stable with every member holding partitions, %d rebalancing, %d stable with a member holding none; at the end %s with members holding %v partitions",
			group, len(ss), stable, rebalancing, idle, last.state, last.held)
		t.Logf("  %s", timeline(ss))
		if idle > 0 {
			t.Errorf("group %s: stable %d times with a member holding no partition", group, idle)
		}
		if last.state != "Stable" || len(last.held) != 2 || last.held[0] == 0 {
			t.Errorf("group %s ended %s with members holding %v partitions, want two members holding some", group, last.state, last.held)
		}
	}
}

// timeline writes a group's looks as runs of one state and holding, e.g.
// "06:54:21-06:54:36 PreparingRebalance [0 24]".
func timeline(ss []sample) string {
	var out []string
	for i := 0; i < len(ss); {
		j := i
		for j+1 < len(ss) && ss[j+1].state == ss[i].state && fmt.Sprint(ss[j+1].held) == fmt.Sprint(ss[i].held) {
			j++
		}
		out = append(out, fmt.Sprintf("%s-%s %s %v", ss[i].at.Format("15:04:05"), ss[j].at.Format("15:04:05"), ss[i].state, ss[i].held))
		i = j + 1
	}
	return strings.Join(out, "; ")
}

// checkLeaving: a loader and an enricher stopped with SIGTERM leave their
// groups at once (no ghost member until the session times out), and the
// other member takes every partition.
func (c *cluster) checkLeaving() {
	admin, err := sarama.NewClusterAdmin(c.kafka, sarama.NewConfig())
	if err != nil {
		c.t.Fatal(err)
	}
	defer func() { _ = admin.Close() }()
	for _, p := range []struct{ proc, group string }{{"loader-2", c.loaderGroup}, {"enricher-2", c.enricherGroup}} {
		stopped := time.Now()
		c.signal(p.proc, sigterm)
		if err := c.wait(p.proc); err != nil {
			c.t.Errorf("%s after SIGTERM: %v, want a clean exit", p.proc, err)
		}
		var desc string
		testenv.Eventually(c.t, 5*time.Second, func() (bool, string) {
			d, err := admin.DescribeConsumerGroups([]string{p.group})
			if err != nil || len(d) != 1 {
				return false, fmt.Sprint(err)
			}
			held := 0
			for _, m := range d[0].Members {
				if a, err := m.GetMemberAssignment(); err == nil && a != nil {
					for _, parts := range a.Topics {
						held += len(parts)
					}
				}
			}
			desc = fmt.Sprintf("%s, %d members holding %d partitions", d[0].State, len(d[0].Members), held)
			return d[0].State == "Stable" && len(d[0].Members) == 1 && held > 0, desc
		})
		c.t.Logf("%s stopped (SIGTERM): group %s %s within %v (session timeout is 10 s: no ghost member)",
			p.proc, p.group, desc, time.Since(stopped).Round(10*time.Millisecond))
	}
}
