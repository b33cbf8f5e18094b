package dashboard

import (
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/footfall/footfall/dashboard/web"
	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/server"
)

// offline is a dashboard whose ClickHouse cannot be reached: whatever is
// answered before a query is tested without services.
func offline(t *testing.T, page fs.FS) (*Dashboard, *httptest.Server) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Keys = Keys{"key-shop": "shop", "key-other": "other"}
	ch := clickhouse.DefaultConfig()
	ch.Addr = "127.0.0.1:1" // nothing listens there
	deps := Deps{ClickHouse: clickhouse.NewClient(ch, "footfall"), Ops: server.NewOps(), Log: slog.New(slog.DiscardHandler), Page: page}
	d, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	return d, srv
}

func get(t *testing.T, srv *httptest.Server, path, key string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestAnswersBeforeAnyQuery(t *testing.T) {
	d, srv := offline(t, nil)
	tests := []struct {
		path, key string
		status    int
		err       string
	}{
		{"/api/v1/stats/aggregate?site_id=shop", "", 401, msgMissingKey},
		{"/api/v1/stats/aggregate?site_id=shop", "nope", 401, msgInvalidKey},
		{"/api/v1/stats/aggregate?site_id=shop", "key-other", 401, msgInvalidKey},
		{"/api/v1/stats/realtime/visitors?site_id=other", "key-shop", 401, msgInvalidKey},
		{"/api/v1/stats/aggregate", "key-shop", 400, msgMissingSite},
		{"/api/v1/stats/aggregate?site_id=shop&period=weekly", "key-shop", 400,
			"Error parsing `period` parameter: invalid period `weekly`. Please find accepted values in docs/dashboard.md#time-periods"},
		{"/api/v1/stats/timeseries?site_id=shop&metrics=visitors,hits", "key-shop", 400,
			"The metric `hits` is not recognized. Find valid metrics in docs/dashboard.md#metrics"},
		{"/api/v1/stats/breakdown?site_id=shop&property=visit:city", "key-shop", 400,
			"Invalid property 'visit:city'. Please provide a valid property for the breakdown endpoint: docs/dashboard.md#properties"},
		{"/api/v1/stats/breakdown?site_id=shop&property=event:page&filters=event:page~/", "key-shop", 400,
			"Error parsing `filters` parameter: `event:page~/` is not a filter. Write property==value or property!=value, joined by ;"},
		{"/api/v1/stats/funnel?site_id=shop&steps=event:page==/", "key-shop", 400,
			"Error parsing `steps` parameter: a funnel has 2 to 8 steps, this one 1."},
		{"/api/v1/stats/retention?site_id=shop&period=custom&date=2024-01-01", "key-shop", 400,
			"Invalid format for `date` parameter. When using a custom period, please include two ISO-8601 formatted dates joined by a comma. See docs/dashboard.md#time-periods"},
		// Good parameters reach for ClickHouse, which is not there.
		{"/api/v1/stats/aggregate?site_id=shop", "key-shop", 503, "ClickHouse is unavailable; try again shortly."},
		{"/api/v1/stats/nope?site_id=shop", "key-shop", 404, "Not found. The Stats API's endpoints are listed in docs/dashboard.md."},
	}
	for _, tt := range tests {
		res, body := get(t, srv, tt.path, tt.key)
		var got struct{ Error string }
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%s: %d %q is not JSON", tt.path, res.StatusCode, body)
		}
		if res.StatusCode != tt.status || got.Error != tt.err {
			t.Errorf("%s key %q = %d %q\nwant %d %q", tt.path, tt.key, res.StatusCode, got.Error, tt.status, tt.err)
		}
		if res.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: no CORS header on a %d", tt.path, res.StatusCode)
		}
	}
	for outcome, want := range map[string]float64{"unauthorized": 3, "bad_request": 2, "unavailable": 1} {
		if got := counter(t, d, "footfall_dashboard_requests_total", "aggregate", outcome); got != want {
			t.Errorf("footfall_dashboard_requests_total{endpoint=aggregate,outcome=%s} = %v, want %v", outcome, got, want)
		}
	}
}

func TestPreflight(t *testing.T) {
	_, srv := offline(t, nil)
	req, err := http.NewRequest(http.MethodOptions, srv.URL+"/api/v1/stats/aggregate?site_id=shop", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://tools.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "authorization")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	h := res.Header
	if res.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") || h.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight = %d %v", res.StatusCode, h)
	}
}

func TestPage(t *testing.T) {
	_, srv := offline(t, nil)
	res, body := get(t, srv, "/", "")
	if res.StatusCode != 200 || !strings.Contains(body, "/api/v1/stats/") {
		t.Fatalf("placeholder page = %d %q", res.StatusCode, body)
	}
	_, srv = offline(t, fstest.MapFS{
		"index.html":    {Data: []byte("<!doctype html><title>Footfall</title>")},
		"assets/app.js": {Data: []byte("console.log(1)")},
	})
	res, body = get(t, srv, "/?period=7d", "")
	if res.StatusCode != 200 || !strings.Contains(body, "<title>Footfall</title>") || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET / = %d %v %q", res.StatusCode, res.Header, body)
	}
	res, body = get(t, srv, "/assets/app.js", "")
	if res.StatusCode != 200 || body != "console.log(1)" || res.Header.Get("Cache-Control") != "" {
		t.Fatalf("GET /assets/app.js = %d %v %q", res.StatusCode, res.Header, body)
	}
	// Named by its content's hash, as the built page names it: kept.
	res, _ = get(t, srv, "/assets/app.js?v=1f2e3d", "")
	if cc := res.Header.Get("Cache-Control"); res.StatusCode != 200 || cc != "public, max-age=31536000, immutable" {
		t.Fatalf("GET /assets/app.js?v=… = %d, Cache-Control %q", res.StatusCode, cc)
	}
	if res, _ = get(t, srv, "/missing.js", ""); res.StatusCode != 404 {
		t.Fatalf("GET /missing.js = %d", res.StatusCode)
	}
	// The page the module serves: the built files of dashboard/web.
	_, srv = offline(t, web.Assets)
	res, body = get(t, srv, "/", "")
	if res.StatusCode != 200 || !strings.Contains(strings.ToLower(body), "<!doctype html") {
		t.Fatalf("GET / of the built page = %d %.200q", res.StatusCode, body)
	}
}

// counter reads a counter of the dashboard's registry by its endpoint and
// outcome labels; absent is 0.
func counter(t *testing.T, d *Dashboard, name, endpoint, outcome string) float64 {
	t.Helper()
	families, err := d.deps.Ops.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["endpoint"] == endpoint && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
