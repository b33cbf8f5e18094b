package privacy

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests *prometheus.CounterVec
	rejected *prometheus.CounterVec
	forgets  *prometheus.CounterVec
	lifted   prometheus.Counter
	deleted  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_privacy_requests_total", Help: "Forget API requests answered, by route and status code.",
		}, []string{"route", "code"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_privacy_requests_rejected_total", Help: "Forget API requests refused, by reason.",
		}, []string{"reason"}),
		forgets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_privacy_forgets_total", Help: "Forgets run by the API, by result (done, failed).",
		}, []string{"result"}),
		lifted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_privacy_ids_lifted_total", Help: "Suppressed ids lifted through the API.",
		}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_privacy_rows_deleted_total", Help: "Rows forgets deleted, by store and table.",
		}, []string{"store", "table"}),
	}
	reg.MustRegister(m.requests, m.rejected, m.forgets, m.lifted, m.deleted)
	return m
}
