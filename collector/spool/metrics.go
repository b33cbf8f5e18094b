package spool

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	appended    prometheus.Counter
	drained     prometheus.Counter
	drainErrors prometheus.Counter
	corrupt     prometheus.Counter
}

// newMetrics registers the spool's metrics on reg; the gauges read s.
func newMetrics(reg prometheus.Registerer, s *Spool) (*metrics, error) {
	m := &metrics{
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_collector_spool_appended_total", Help: "Records written to the spool because Kafka did not take them in time.",
		}),
		drained: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_collector_spool_drained_total", Help: "Spooled records Kafka acknowledged.",
		}),
		drainErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_collector_spool_drain_errors_total", Help: "Attempts to forward spooled records that Kafka refused or missed; each is retried.",
		}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "footfall_collector_spool_corrupt_total", Help: "Torn or corrupt stretches of the spool skipped (a crash mid-write, damage on disk); the batches in them are lost.",
		}),
	}
	cs := []prometheus.Collector{
		m.appended, m.drained, m.drainErrors, m.corrupt,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "footfall_collector_spool_bytes", Help: "Bytes of spool segment files on disk, bounded by --collector-spool-max-bytes.",
		}, s.gaugeBytes),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "footfall_collector_spool_records", Help: "Spooled records Kafka has not acknowledged yet.",
		}, s.gaugeRecords),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "footfall_collector_spool_oldest_seconds", Help: "Age of the oldest spooled record Kafka has not acknowledged; 0 when there is none.",
		}, s.gaugeOldest),
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("spool: register metrics: %w", err)
		}
	}
	return m, nil
}

func (s *Spool) gaugeBytes() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(s.bytes)
}

func (s *Spool) gaugeRecords() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(s.records)
}

func (s *Spool) gaugeOldest() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oldest.IsZero() {
		return 0
	}
	return max(s.now().Sub(s.oldest).Seconds(), 0)
}
