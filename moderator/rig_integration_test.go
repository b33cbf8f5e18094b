package moderator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/moderator"
	"github.com/footfall/footfall/reviews"
)

const (
	site      = "shop"
	serverKey = "shop-server-key"
)

// rig is the reviews API and a moderator on the real Kafka and
// PostgreSQL, each test with its own topics and database.
type rig struct {
	t    *testing.T
	kc   kafka.Config
	pool *pgxpool.Pool
	pub  *kafka.Producer
	api  *httptest.Server
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, kc: testenv.Kafka(t), pool: testenv.Postgres(t)}
	r.pub = testenv.Producer(t, r.kc, "reviews-test")
	cfg := reviews.DefaultConfig()
	cfg.ServerKeys = config.ServerKeys{serverKey: site, "other-server-key": "other"}
	api, err := reviews.New(cfg, reviews.Deps{Pool: r.pool, Publisher: r.pub, TopicPrefix: r.kc.TopicPrefix, Ops: server.NewOps(), Log: testenv.Log(t)})
	if err != nil {
		t.Fatal(err)
	}
	r.api = httptest.NewServer(api.Handler())
	t.Cleanup(r.api.Close)
	return r
}

// config is a moderator configuration of the test's own group.
func (r *rig) config() moderator.Config {
	cfg := moderator.DefaultConfig()
	cfg.Group = testenv.Name("moderator")
	return cfg
}

// startModerator runs a moderator until the test ends.
func (r *rig) startModerator(cfg moderator.Config) {
	r.t.Helper()
	mod, err := moderator.New(cfg, moderator.Deps{Kafka: r.kc, Pool: r.pool, DeadLetters: r.pub, Ops: server.NewOps(), Log: testenv.Log(r.t), Grace: 2 * time.Second})
	if err != nil {
		r.t.Fatal(err)
	}
	testenv.Start(r.t, "moderator", 30*time.Second, mod.Run)
}

// rules gives the test site a rule set of its own.
func (r *rig) rules(columns string, values ...any) {
	r.t.Helper()
	ph := ""
	for i := range values {
		if i > 0 {
			ph += ", "
		}
		ph += fmt.Sprintf("$%d", i+2)
	}
	r.exec(fmt.Sprintf(`INSERT INTO moderation_rules (site_id, %s) VALUES ($1, %s)`, columns, ph), append([]any{site}, values...)...)
}

func (r *rig) exec(sql string, args ...any) {
	r.t.Helper()
	if _, err := r.pool.Exec(context.Background(), sql, args...); err != nil {
		r.t.Fatal(err)
	}
}

// post posts a review with the site's server key and returns the status
// code and the answer.
func (r *rig) post(body map[string]any) (int, map[string]any) {
	r.t.Helper()
	return r.postAs(serverKey, body)
}

func (r *rig) postAs(key string, body map[string]any) (int, map[string]any) {
	r.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		r.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, r.api.URL+"/v1/reviews", bytes.NewReader(raw))
	if err != nil {
		r.t.Fatal(err)
	}
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	req.Header.Set("Content-Type", "application/json")
	return r.do(req)
}

func (r *rig) do(req *http.Request) (int, map[string]any) {
	r.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		r.t.Fatalf("answer %s is no JSON object: %q", resp.Status, raw)
	}
	return resp.StatusCode, out
}

// review posts a review by author of product and returns its id.
func (r *rig) review(author, product, title, body string) string {
	r.t.Helper()
	status, out := r.post(map[string]any{"product_id": product, "author_id": author, "rating": 4, "title": title, "body": body})
	if status != http.StatusAccepted || out["status"] != reviews.Pending {
		r.t.Fatalf("post: %d %v", status, out)
	}
	return out["id"].(string)
}

// get reads a product's reviews as viewer sees them ("" for anyone).
func (r *rig) get(product, viewer string) reviews.Response {
	r.t.Helper()
	q := url.Values{"site": {site}, "product": {product}}
	if viewer != "" {
		q.Set("viewer", viewer)
	}
	req, err := http.NewRequest(http.MethodGet, r.api.URL+"/v1/reviews?"+q.Encode(), nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.SetBasicAuth(serverKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		r.t.Fatalf("get: %s", resp.Status)
	}
	var out reviews.Response
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// find returns the review id in list, if there.
func find(list []reviews.Review, id string) (reviews.Review, bool) {
	for _, rv := range list {
		if rv.ID == id {
			return rv, true
		}
	}
	return reviews.Review{}, false
}

// waitDecided waits until the review id of product, as its author sees it,
// is no longer pending, and returns it as everyone and its author see it.
func (r *rig) waitDecided(product, author, id string) (public, own reviews.Review, visible bool) {
	r.t.Helper()
	testenv.Eventually(r.t, 30*time.Second, func() (bool, string) {
		if rv, ok := find(r.get(product, "").Reviews, id); ok {
			public, visible = rv, true
			return true, ""
		}
		seen := r.get(product, author)
		if rv, ok := find(seen.ViewerReviews, id); ok && rv.Status != reviews.Pending {
			own = rv
			return true, ""
		}
		return false, fmt.Sprintf("review %s still pending: %+v", id, seen)
	})
	return public, own, visible
}

// status reads a review's stored decision.
func (r *rig) status(id string) (status, rule string, version int64) {
	r.t.Helper()
	if err := r.pool.QueryRow(context.Background(), `SELECT status, decided_by_rule, rule_version FROM reviews WHERE site_id = $1 AND id = $2`, site, id).Scan(&status, &rule, &version); err != nil {
		r.t.Fatal(err)
	}
	return status, rule, version
}
