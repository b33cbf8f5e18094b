package reviews_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/reviews"
)

const serverKey = "shop-server-key"

type api struct {
	srv  *httptest.Server
	pool *pgxpool.Pool
	ops  *server.Ops
}

func newAPI(t *testing.T, pub kafka.Publisher, prefix string) *api {
	t.Helper()
	a := &api{pool: testenv.Postgres(t), ops: server.NewOps()}
	cfg := reviews.DefaultConfig()
	cfg.ServerKeys = config.ServerKeys{serverKey: "shop"}
	cfg.MaxBody = 100
	h, err := reviews.New(cfg, reviews.Deps{Pool: a.pool, Publisher: pub, TopicPrefix: prefix, Ops: a.ops, Log: testenv.Log(t)})
	if err != nil {
		t.Fatal(err)
	}
	a.srv = httptest.NewServer(h.Handler())
	t.Cleanup(a.srv.Close)
	return a
}

func (a *api) post(t *testing.T, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.srv.URL+"/v1/reviews", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// A new review is stored pending and put on the reviews topic, keyed by
// site and author; a resend with the same id is the same review, answered
// as stored, and put on the topic no second time.
func TestPostStoresPendingAndResendIsOneReview(t *testing.T) {
	kc := testenv.Kafka(t)
	a := newAPI(t, testenv.Producer(t, kc, "reviews-test"), kc.TopicPrefix)
	body := `{"id":"r-1","product_id":"kettle","author_id":"alice","rating":5,"title":"Nice","body":"Boils fast."}`
	status, first := a.post(t, serverKey, body)
	if status != http.StatusAccepted || first["id"] != "r-1" || first["status"] != reviews.Pending {
		t.Fatalf("first post: %d %v", status, first)
	}
	status, again := a.post(t, serverKey, body)
	if status != http.StatusOK || again["id"] != "r-1" || again["status"] != reviews.Pending {
		t.Fatalf("resend: %d %v", status, again)
	}
	var n int
	if err := a.pool.QueryRow(context.Background(), `SELECT count(*) FROM reviews WHERE site_id = 'shop' AND id = 'r-1' AND status = 'pending'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("stored %d rows (%v), want 1 pending", n, err)
	}
	status, generated := a.post(t, serverKey, `{"product_id":"kettle","author_id":"bob","rating":3,"body":"Fine."}`)
	if id, _ := generated["id"].(string); status != http.StatusAccepted || len(id) != 36 {
		t.Fatalf("a review without id: %d %v", status, generated)
	}

	in := testenv.Inspector(t, kc)
	var recs []kafka.Record
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		all, err := in.ReadAll(context.Background(), reviews.Topic(kc.TopicPrefix))
		recs = all[reviews.Topic(kc.TopicPrefix)]
		return err == nil && len(recs) == 2, fmt.Sprintf("%d records on the topic (%v)", len(recs), err)
	})
	var m reviews.Message
	if err := json.Unmarshal(recs[0].Value, &m); err != nil {
		t.Fatal(err)
	}
	if string(recs[0].Key) != "shop:alice" || m.ID != "r-1" || m.SiteID != "shop" || m.Body != "Boils fast." || m.CreatedAt == 0 {
		t.Errorf("record %s: %+v", recs[0].Key, m)
	}
}

// Bad input gets a 4xx with a reason, counted by reason.
func TestPostRefusesBadInput(t *testing.T) {
	kc := testenv.Kafka(t)
	a := newAPI(t, testenv.Producer(t, kc, "reviews-test"), kc.TopicPrefix)
	for _, tc := range []struct {
		key, body string
		status    int
		reason    string
	}{
		{"", `{"product_id":"p","author_id":"a","rating":5,"body":"x"}`, http.StatusUnauthorized, "bad_credentials"},
		{"a-write-key", `{"product_id":"p","author_id":"a","rating":5,"body":"x"}`, http.StatusUnauthorized, "bad_credentials"},
		{serverKey, `{"product_id":"p","author_id":"a","rating":5,`, http.StatusBadRequest, "bad_json"},
		{serverKey, `{"author_id":"a","rating":5,"body":"x"}`, http.StatusBadRequest, "missing_product_id"},
		{serverKey, `{"product_id":"p","rating":5,"body":"x"}`, http.StatusBadRequest, "missing_author_id"},
		{serverKey, `{"product_id":"p","author_id":"a","rating":6,"body":"x"}`, http.StatusBadRequest, "bad_rating"},
		{serverKey, `{"product_id":"p","author_id":"a","rating":5,"body":"  "}`, http.StatusBadRequest, "missing_body"},
		{serverKey, `{"product_id":"p","author_id":"a","rating":5,"body":"` + strings.Repeat("é", 101) + `"}`, http.StatusBadRequest, "body_too_long"},
		{serverKey, `{"product_id":"p","author_id":"a","rating":5,"body":"` + strings.Repeat("x", 10000) + `"}`, http.StatusRequestEntityTooLarge, "body_too_large"},
		{serverKey, `{"id":"` + strings.Repeat("i", 201) + `","product_id":"p","author_id":"a","rating":5,"body":"x"}`, http.StatusBadRequest, "bad_id"},
	} {
		status, out := a.post(t, tc.key, tc.body)
		if status != tc.status || out["error"] != tc.reason || out["detail"] == "" {
			t.Errorf("%.60s: %d %v, want %d %s", tc.body, status, out, tc.status, tc.reason)
		}
	}
	if n := series(t, a.ops, "footfall_reviews_refused_total"); n != 9 { // one per reason
		t.Errorf("refusals counted under %d reasons, want 9", n)
	}
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/v1/reviews?site=other&product=p", nil)
	req.SetBasicAuth(serverKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a read of another site's reviews: %s", resp.Status)
	}
}

// failing is a Kafka that takes nothing.
type failing struct{}

func (failing) Publish(context.Context, []kafka.Record) error { return errors.New("kafka is down") }

// A review Kafka does not take is stored all the same, pending, and the
// shop is answered: the moderator's sweep decides it.
func TestPostStoresWhenKafkaIsDown(t *testing.T) {
	testenv.Integration(t)
	a := newAPI(t, failing{}, "unused")
	code, out := a.post(t, serverKey, `{"product_id":"p","author_id":"a","rating":4,"body":"Works."}`)
	if code != http.StatusAccepted || out["status"] != reviews.Pending {
		t.Fatalf("%d %v", code, out)
	}
	if n := counter(t, a.ops, "footfall_reviews_publish_failed_total"); n != 1 {
		t.Errorf("publish failures counted: %v", n)
	}
	var status string
	if err := a.pool.QueryRow(context.Background(), `SELECT status FROM reviews WHERE author_id = 'a'`).Scan(&status); err != nil || status != reviews.Pending {
		t.Fatalf("stored: %q %v", status, err)
	}
}

// series gathers how many series the metric name has.
func series(t *testing.T, ops *server.Ops, name string) int {
	t.Helper()
	mfs, err := ops.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

// counter gathers the value of the unlabelled counter name.
func counter(t *testing.T, ops *server.Ops, name string) float64 {
	t.Helper()
	mfs, err := ops.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
