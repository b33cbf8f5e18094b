package dashboard_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/testenv"
)

// TestLogsReport: log records posted to the collector's /v1/logs reach the
// logs report, counted by service and severity level (the services with
// most errors first), with the latest errors newest first; records
// outside the period are not counted, another site sees none of them, and
// the report refuses filters and other sites' keys.
func TestLogsReport(t *testing.T) {
	p := newPipeline(t)
	p.startLoader()
	now := time.Now().UTC().Truncate(time.Second)
	yesterday := now.AddDate(0, 0, -1)
	line := func(at time.Time, service, severity, body string) string {
		return fmt.Sprintf(`{"time":%q,"service":%q,"severity":%q,"body":%q,"trace_id":"5b8efff798038103d269b633813fc60c"}`,
			at.Format(time.RFC3339), service, severity, body)
	}
	lines := []string{
		line(now.Add(-50*time.Minute), "checkout", "error", "payment declined"),
		line(now.Add(-40*time.Minute), "checkout", "info", "order placed"),
		line(now.Add(-30*time.Minute), "checkout", "fatal", "database gone"),
		line(now.Add(-20*time.Minute), "search", "warn", "slow query"),
		line(now.Add(-10*time.Minute), "search", "error", "index missing"),
		line(now.Add(-5*time.Minute), "mailer", "info", "sent"),
		line(now.Add(-time.Minute), "mailer", "debug", "queue empty"),
		line(now.AddDate(0, 0, -40), "checkout", "error", "long ago"),
	}
	post := func(key string, lines []string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, p.collector.URL+"/v1/logs", strings.NewReader(strings.Join(lines, "\n")))
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.SetBasicAuth(key, "")
		res, err := p.collector.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("POST /v1/logs: %d", res.StatusCode)
		}
	}
	post(serverKey, lines)

	ask := params("period", "custom", "date", yesterday.Format(time.DateOnly)+","+now.Format(time.DateOnly))
	type count struct {
		service, severity string
		n                 float64
	}
	want := []count{
		{"checkout", "INFO", 1}, {"checkout", "ERROR", 1}, {"checkout", "FATAL", 1},
		{"search", "WARN", 1}, {"search", "ERROR", 1},
		{"mailer", "DEBUG", 1}, {"mailer", "INFO", 1},
	}
	// The report's two queries run side by side, so a poll can land
	// between the loader's inserts; wait until both parts agree.
	wantErrors := []string{"search ERROR index missing", "checkout FATAL database gone", "checkout ERROR payment declined"}
	var got map[string]any
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		got = p.results("/api/v1/stats/logs", ask).(map[string]any)
		var counts []count
		for _, c := range got["counts"].([]any) {
			c := c.(map[string]any)
			counts = append(counts, count{c["service"].(string), c["severity"].(string), c["count"].(float64)})
		}
		var bodies []string
		for _, l := range got["recent_errors"].([]any) {
			l := l.(map[string]any)
			bodies = append(bodies, l["service"].(string)+" "+l["severity"].(string)+" "+l["body"].(string))
		}
		return reflect.DeepEqual(counts, want) && reflect.DeepEqual(bodies, wantErrors),
			fmt.Sprintf("counts %v, want %v; recent errors %q, want %q (newest first, nothing from before the period)",
				counts, want, bodies, wantErrors)
	})
	for _, l := range got["recent_errors"].([]any) {
		if l := l.(map[string]any); l["trace_id"] != "5b8efff798038103d269b633813fc60c" {
			t.Errorf("recent error %v: trace id lost", l)
		}
	}

	ask.Set("site_id", otherSite)
	if status, body := p.get("/api/v1/stats/logs", ask, otherKey); status != http.StatusOK ||
		fmt.Sprint(body) != "map[results:map[counts:[] recent_errors:[]]]" {
		t.Errorf("another site's report: %d %v, want 200 and nothing", status, body)
	}
	ask.Set("site_id", site)
	if status, _ := p.get("/api/v1/stats/logs", ask, otherKey); status != http.StatusUnauthorized {
		t.Errorf("another site's key: %d, want 401", status)
	}
	ask.Set("filters", "event:page==/")
	if status, body := p.get("/api/v1/stats/logs", ask, statsKey); status != http.StatusBadRequest {
		t.Errorf("with filters: %d %v, want 400", status, body)
	}
}
