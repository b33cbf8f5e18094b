package collector

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	accepted    *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	requests    *prometheus.CounterVec
	kafkaErrors prometheus.Counter
	produceTime prometheus.Histogram
	suppressed  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_collector_events_accepted_total", Help: "Events stored, by type: acknowledged by Kafka, or spooled while Kafka is away.",
		}, []string{"type"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_collector_events_rejected_total", Help: "Events or whole batches rejected, by reason.",
		}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_collector_requests_total", Help: "Batch requests answered, by status code.",
		}, []string{"code"}),
		kafkaErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_collector_kafka_errors_total", Help: "Batches Kafka did not acknowledge in time: spooled, or answered 503 (footfall_collector_batches_refused_total).",
		}),
		produceTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "footfall_collector_produce_seconds", Help: "Time for Kafka to acknowledge one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	m.suppressed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "footfall_collector_events_suppressed_total", Help: "Events of forgotten visitors, answered as accepted and dropped (docs/privacy.md).",
	})
	reg.MustRegister(m.accepted, m.rejected, m.requests, m.kafkaErrors, m.produceTime, m.suppressed)
	return m
}
