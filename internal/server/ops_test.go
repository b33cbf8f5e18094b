package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A check answering Degraded leaves the service ready and is named in the
// body; a failing check makes it not ready, and the body keeps both.
func TestReadyzDegraded(t *testing.T) {
	degraded := func(context.Context) error {
		return Degraded(fmt.Errorf("batches go to the spool: %w", errors.New("kafka: not connected")))
	}
	failing := func(context.Context) error { return errors.New("ping: connection refused") }
	for _, tt := range []struct {
		name   string
		checks map[string]Check
		status int
		body   map[string]any
	}{
		{"all pass", map[string]Check{"kafka": func(context.Context) error { return nil }}, http.StatusOK,
			map[string]any{"status": "ready"}},
		{"degraded", map[string]Check{"kafka": degraded}, http.StatusOK,
			map[string]any{"status": "degraded", "degraded": map[string]any{"kafka": "batches go to the spool: kafka: not connected"}}},
		{"degraded and failing", map[string]Check{"kafka": degraded, "postgres": failing}, http.StatusServiceUnavailable,
			map[string]any{"status": "not ready",
				"degraded": map[string]any{"kafka": "batches go to the spool: kafka: not connected"},
				"failed":   map[string]any{"postgres": "ping: connection refused"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOps()
			for name, c := range tt.checks {
				o.AddCheck(name, c)
			}
			w := httptest.NewRecorder()
			o.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body is not JSON: %q", w.Body)
			}
			if w.Code != tt.status || fmt.Sprint(body) != fmt.Sprint(tt.body) {
				t.Errorf("/readyz = %d %v, want %d %v", w.Code, body, tt.status, tt.body)
			}
		})
	}
	if err := Degraded(context.DeadlineExceeded); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Degraded hides its cause from errors.Is")
	}
}
