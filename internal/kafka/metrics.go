package kafka

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type groupMetrics struct {
	batches     *prometheus.CounterVec
	messages    *prometheus.CounterVec
	writeErrors prometheus.Counter
	deadLetters *prometheus.CounterVec
	writeTime   prometheus.Histogram
}

func newGroupMetrics(reg prometheus.Registerer, group string) *groupMetrics {
	labels := prometheus.Labels{"group": group}
	m := &groupMetrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_consumer_batches_total", Help: "Batches written, by what triggered the flush.", ConstLabels: labels,
		}, []string{"trigger"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_consumer_messages_total", Help: "Messages written and committed, by topic.", ConstLabels: labels,
		}, []string{"topic"}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_consumer_write_errors_total", Help: "Failed batch writes; each is retried.", ConstLabels: labels,
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_consumer_dead_letters_total", Help: "Records the handler refused permanently, sent to the dead-letter topic, by source topic.", ConstLabels: labels,
		}, []string{"topic"}),
		writeTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "footfall_consumer_write_seconds", Help: "Time to write one batch.", ConstLabels: labels,
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	reg.MustRegister(m.batches, m.messages, m.writeErrors, m.deadLetters, m.writeTime)
	return m
}

func (m *groupMetrics) observe(recs []Record, trigger string, took time.Duration) {
	m.batches.WithLabelValues(trigger).Inc()
	m.writeTime.Observe(took.Seconds())
	for _, r := range recs {
		m.messages.WithLabelValues(r.Topic).Inc()
	}
}
