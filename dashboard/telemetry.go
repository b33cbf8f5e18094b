package dashboard

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// telemetry is the dashboard's Prometheus metrics, on the process's
// registry.
type telemetry struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newTelemetry(reg prometheus.Registerer) *telemetry {
	t := &telemetry{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_dashboard_requests_total",
			Help: "Stats API requests answered, by endpoint and outcome (ok, bad_request, unauthorized, unavailable, error).",
		}, []string{"endpoint", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "footfall_dashboard_request_duration_seconds",
			Help:    "Time to answer a Stats API request, by endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 12),
		}, []string{"endpoint"}),
	}
	reg.MustRegister(t.requests, t.duration)
	return t
}

// observe counts one answer of endpoint.
func (t *telemetry) observe(endpoint string, status int, took time.Duration) {
	t.requests.WithLabelValues(endpoint, outcome(status)).Inc()
	t.duration.WithLabelValues(endpoint).Observe(took.Seconds())
}

func outcome(status int) string {
	switch {
	case status < 300:
		return "ok"
	case status == http.StatusBadRequest:
		return "bad_request"
	case status == http.StatusUnauthorized:
		return "unauthorized"
	case status == http.StatusServiceUnavailable:
		return "unavailable"
	}
	return "error"
}
