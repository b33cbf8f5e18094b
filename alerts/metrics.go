package alerts

import "github.com/prometheus/client_golang/prometheus"

// Delivery outcomes, the label of footfall_alerts_deliveries_total.
const (
	outcomeOK     = "ok"
	outcomeRetry  = "retry"
	outcomeGaveUp = "gave_up"
)

type metrics struct {
	evaluated     prometheus.Counter
	matched       prometheus.Counter
	skipped       *prometheus.CounterVec
	written       *prometheus.CounterVec
	suppressed    *prometheus.CounterVec
	deliveries    *prometheus.CounterVec
	requestTime   prometheus.Histogram
	deliveryDelay prometheus.Histogram
	rules         prometheus.Gauge
	ruleLoads     *prometheus.CounterVec
	resolveRuns   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		evaluated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_alerts_records_evaluated_total", Help: "Log records checked against the alert rules (once each, redeliveries not counted).",
		}),
		matched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_alerts_records_matched_total", Help: "Matches counted into windows: one per record and rule it matched.",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_alerts_records_skipped_total", Help: "Log records not evaluated, by reason (already_applied: a redelivery; malformed; unsupported_version).",
		}, []string{"reason"}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_alerts_notifications_written_total", Help: "Notifications written to the outbox, by status (firing, resolved).",
		}, []string{"status"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_alerts_notifications_suppressed_total", Help: "Windows that reached their threshold without a notification, by reason (stale: ended before --alerts-max-lag).",
		}, []string{"reason"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_alerts_deliveries_total", Help: "Webhook delivery attempts by outcome: ok, retry (failed, tried again later), gave_up (refused with a 4xx, or older than --alerts-delivery-max-age).",
		}, []string{"outcome"}),
		requestTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "footfall_alerts_webhook_request_seconds", Help: "Duration of one webhook POST, whatever its outcome.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 9),
		}),
		deliveryDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "footfall_alerts_delivery_delay_seconds", Help: "From a notification written to its delivery, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}),
		rules: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "footfall_alerts_rules", Help: "Enabled alert rules loaded.",
		}),
		ruleLoads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_alerts_rule_loads_total", Help: "Rereads of alert_rules, by result (ok, error).",
		}, []string{"result"}),
		resolveRuns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_alerts_resolve_runs_total", Help: "Completed checks of fired rules for a quiet window.",
		}),
	}
	reg.MustRegister(m.evaluated, m.matched, m.skipped, m.written, m.suppressed, m.deliveries,
		m.requestTime, m.deliveryDelay, m.rules, m.ruleLoads, m.resolveRuns)
	return m
}
