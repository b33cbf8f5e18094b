package kafka

import (
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
)

type groupMetrics struct {
	batches     *prometheus.CounterVec
	messages    *prometheus.CounterVec
	writeErrors prometheus.Counter
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
		writeTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "footfall_consumer_write_seconds", Help: "Time to write one batch.", ConstLabels: labels,
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	reg.MustRegister(m.batches, m.messages, m.writeErrors, m.writeTime)
	return m
}

func (m *groupMetrics) observe(msgs []*sarama.ConsumerMessage, trigger string, took time.Duration) {
	m.batches.WithLabelValues(trigger).Inc()
	m.writeTime.Observe(took.Seconds())
	for _, msg := range msgs {
		m.messages.WithLabelValues(msg.Topic).Inc()
	}
}
