package promotions_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/server"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/promotions"
)

// catalog is the test shop. Scores, priorities and windows are chosen so
// that every ordering rule decides at least one place.
const catalog = `
INSERT INTO promotions (site_id, id, title, url, is_default, priority, starts_at, ends_at) VALUES
  ('shop',  'fan',      'Fans',             '/fan',      false, 10, NULL, NULL),
  ('shop',  'humid',    'Humidifiers',      '/humid',    false, 10, NULL, NULL),
  ('shop',  'kettle',   'Kettles',          '/kettle',   false, 99, NULL, NULL),
  ('shop',  'blanket',  'Blankets',         '/blanket',  false, 10, NULL, NULL),
  ('shop',  'ended',    'Summer sale',      '/ended',    false, 10, now() - interval '1 day', now() - interval '1 hour'),
  ('shop',  'upcoming', 'Winter sale',      '/upcoming', false, 10, now() + interval '1 day', NULL),
  ('shop',  'welcome',  'Welcome',          '/welcome',  true, 100, NULL, NULL),
  ('shop',  'shipping', 'Free shipping',    '/shipping', true,  50, now() - interval '1 day', now() + interval '1 day'),
  ('shop',  'old-news', 'Last year''s deal', '/old',     true, 200, NULL, now() - interval '1 minute'),
  ('other', 'yacht',    'Yachts',           '/yacht',    true,  10, NULL, NULL);

INSERT INTO user_promotions (site_id, user_key, promotion_id, score, reason, last_event_at, expires_at) VALUES
  ('shop', 'anon-1', 'fan',      9, 'search:fan',        now() - interval '1 hour', now() + interval '1 day'),
  ('shop', 'anon-1', 'humid',    5, 'search:humidifier', now(),                     now() + interval '1 day'),
  ('shop', 'anon-1', 'kettle',   2, 'click:/kettle',     now(),                     now() + interval '1 day'),
  ('shop', 'anon-1', 'blanket', 50, 'search:blanket',    now() - interval '30 days', now() - interval '1 second'),
  ('shop', 'anon-1', 'ended',   80, 'search:summer',     now(),                     now() + interval '1 day'),
  ('shop', 'anon-1', 'upcoming', 70, 'search:winter',    now(),                     now() + interval '1 day'),
  ('other', 'anon-1', 'yacht', 1000, 'search:yacht',     now(),                     now() + interval '1 day'),
  -- user-7 logged in on two devices, anon-3 and anon-4.
  ('shop', 'anon-3', 'kettle',   4, 'search:kettle',     now(),                     now() + interval '1 day'),
  ('shop', 'anon-4', 'kettle',   3, 'click:/kettle',      now() - interval '1 hour', now() + interval '1 day'),
  ('shop', 'anon-4', 'humid',    6, 'search:humidifier', now(),                     now() + interval '1 day'),
  -- anon-5's ties: equal scores go to the latest interest, then the priority.
  ('shop', 'anon-5', 'fan',      4, 'search:fan',        now() - interval '1 hour', now() + interval '1 day'),
  ('shop', 'anon-5', 'humid',    4, 'search:humidifier', now(),                     now() + interval '1 day'),
  ('shop', 'anon-5', 'blanket',  1, 'search:blanket',    now() - interval '2 hours', now() + interval '1 day'),
  ('shop', 'anon-5', 'kettle',   1, 'search:kettle',     now() - interval '2 hours', now() + interval '1 day');

INSERT INTO identities (site_id, anonymous_id, user_id) VALUES
  ('shop', 'anon-3', 'user-7'),
  ('shop', 'anon-4', 'user-7'),
  ('other', 'anon-1', 'user-7');
-- As the enricher keeps it beside the links.
INSERT INTO known_users (site_id, user_id) VALUES ('shop', 'user-7'), ('other', 'user-7');
`

func newAPI(t *testing.T) (*httptest.Server, *pgxpool.Pool) {
	t.Helper()
	return newAPIWith(t, promotions.DefaultConfig())
}

func newAPIWith(t *testing.T, cfg promotions.Config) (*httptest.Server, *pgxpool.Pool) {
	t.Helper()
	pool := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pool.Exec(ctx, catalog); err != nil {
		t.Fatalf("load catalog: %v", err)
	}
	ops := server.NewOps()
	api, err := promotions.New(cfg, pool, ops, testenv.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	// Served as the process serves it: the API beside the ops endpoints.
	srv := httptest.NewServer(server.Mux(ops, api.Handler(), false))
	t.Cleanup(srv.Close)
	return srv, pool
}

type answer struct {
	status int
	header http.Header
	raw    string
	body   promotions.Response
	error  string
}

func get(t *testing.T, srv *httptest.Server, query url.Values) answer {
	t.Helper()
	res, err := srv.Client().Get(srv.URL + "/v1/promotions?" + query.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: res.StatusCode, header: res.Header, raw: string(b)}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("answer %d is not JSON: %q", res.StatusCode, b)
	}
	a.error = e.Error
	if err := json.Unmarshal(b, &a.body); err != nil {
		t.Fatalf("answer %d: %v", res.StatusCode, err)
	}
	return a
}

func ids(ps []promotions.Promotion) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return strings.Join(out, ",")
}

// TestIntegrationPromotions asks the API what a homepage would ask and
// checks the order, the limits, the live windows and the answers to bad
// requests.
func TestIntegrationPromotions(t *testing.T) {
	srv, _ := newAPI(t)
	tests := []struct {
		name   string
		query  url.Values
		status int
		want   string // promotion ids in order
		error  string
	}{
		{name: "personal first, by score, then defaults by priority", query: url.Values{"site": {"shop"}, "user": {"anon-1"}}, status: 200, want: "fan,humid,kettle,welcome,shipping"},
		{name: "ties: latest interest, then priority", query: url.Values{"site": {"shop"}, "user": {"anon-5"}, "limit": {"4"}}, status: 200, want: "humid,fan,kettle,blanket"},
		{name: "limit", query: url.Values{"site": {"shop"}, "user": {"anon-1"}, "limit": {"2"}}, status: 200, want: "fan,humid"},
		{name: "a visitor with no history gets the defaults", query: url.Values{"site": {"shop"}, "user": {"anon-new"}}, status: 200, want: "welcome,shipping"},
		{name: "no user gets the defaults", query: url.Values{"site": {"shop"}}, status: 200, want: "welcome,shipping"},
		{name: "a logged-in user sees every device's interests", query: url.Values{"site": {"shop"}, "user": {"user-7"}}, status: 200, want: "kettle,humid,welcome,shipping"},
		{name: "one device sees the others of its user", query: url.Values{"site": {"shop"}, "user": {"anon-3"}}, status: 200, want: "kettle,humid,welcome,shipping"},
		{name: "each site answers from its own catalog", query: url.Values{"site": {"other"}, "user": {"anon-1"}}, status: 200, want: "yacht"},
		{name: "unknown site", query: url.Values{"site": {"nope"}, "user": {"anon-1"}}, status: 200, want: ""},
		{name: "missing site", query: url.Values{"user": {"anon-1"}}, status: 400, error: "missing_site"},
		{name: "limit zero", query: url.Values{"site": {"shop"}, "user": {"anon-1"}, "limit": {"0"}}, status: 400, error: "bad_limit"},
		{name: "limit over the maximum", query: url.Values{"site": {"shop"}, "user": {"anon-1"}, "limit": {"51"}}, status: 400, error: "bad_limit"},
		{name: "limit not a number", query: url.Values{"site": {"shop"}, "user": {"anon-1"}, "limit": {"all"}}, status: 400, error: "bad_limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, srv, tt.query)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.raw)
			}
			if a.header.Get("Cache-Control") != "no-store" || a.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("Cache-Control %q, Allow-Origin %q: want no-store and *", a.header.Get("Cache-Control"), a.header.Get("Access-Control-Allow-Origin"))
			}
			if tt.status != http.StatusOK {
				if a.error != tt.error || !strings.Contains(a.raw, `"detail"`) {
					t.Errorf("answer %s, want error %q with a detail", a.raw, tt.error)
				}
				return
			}
			if got := ids(a.body.Promotions); got != tt.want {
				t.Errorf("promotions %q, want %q", got, tt.want)
			}
			if !strings.Contains(a.raw, `"promotions":[`) {
				t.Errorf("promotions is not a list: %s", a.raw)
			}
			if a.body.Site != tt.query.Get("site") || a.body.User != tt.query.Get("user") {
				t.Errorf("answer is for %q/%q, asked %q/%q", a.body.Site, a.body.User, tt.query.Get("site"), tt.query.Get("user"))
			}
		})
	}
}

// TestIntegrationPromotionFields checks what each entry tells the homepage:
// the visitor's score and why, or that it is a default.
func TestIntegrationPromotionFields(t *testing.T) {
	srv, _ := newAPI(t)
	a := get(t, srv, url.Values{"site": {"shop"}, "user": {"user-7"}})
	want := []promotions.Promotion{
		// 4 now, and 3 an hour ago: a week's half-life leaves 2.99 of those.
		{ID: "kettle", Title: "Kettles", URL: "/kettle", Score: 6.99, Reason: "search:kettle"},
		{ID: "humid", Title: "Humidifiers", URL: "/humid", Score: 6, Reason: "search:humidifier"},
		{ID: "welcome", Title: "Welcome", URL: "/welcome", Score: 0, Reason: "default"},
		{ID: "shipping", Title: "Free shipping", URL: "/shipping", Score: 0, Reason: "default"},
	}
	if len(a.body.Promotions) != len(want) {
		t.Fatalf("promotions %s, want %d", a.raw, len(want))
	}
	for i, w := range want {
		if a.body.Promotions[i] != w {
			t.Errorf("promotion %d = %+v, want %+v", i, a.body.Promotions[i], w)
		}
	}
}

// TestIntegrationPromotionsFollowTheDatabase checks the answer is read per
// request: a score the enricher raises, or a row that expires, shows at once.
func TestIntegrationPromotionsFollowTheDatabase(t *testing.T) {
	srv, pool := newAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q := url.Values{"site": {"shop"}, "user": {"anon-1"}, "limit": {"3"}}
	if got := ids(get(t, srv, q).body.Promotions); got != "fan,humid,kettle" {
		t.Fatalf("before: %q", got)
	}
	if _, err := pool.Exec(ctx, `UPDATE user_promotions SET score = 20 WHERE site_id = 'shop' AND user_key = 'anon-1' AND promotion_id = 'kettle'`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE user_promotions SET expires_at = now() WHERE site_id = 'shop' AND user_key = 'anon-1' AND promotion_id = 'fan'`); err != nil {
		t.Fatal(err)
	}
	if got := ids(get(t, srv, q).body.Promotions); got != "kettle,humid,welcome" {
		t.Errorf("after raising kettle and expiring fan: %q, want kettle,humid,welcome", got)
	}
}
