package collector

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/footfall/footfall/collector/spool"
	"github.com/footfall/footfall/internal/app"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/server"
)

// storeDeadline bounds how long a batch waits to be stored, in Kafka or in
// the spool. Past it the collector answers 503, so no request hangs on a
// broker or a disk that stopped answering, and a beacon sent from a page
// being closed has its answer within a second.
const storeDeadline = 800 * time.Millisecond

// Spooling is how the collector uses its disk spool (collector/spool):
// the batches Kafka does not acknowledge within After go there, and are
// answered 2xx all the same.
type Spooling struct {
	// Enabled off: a batch Kafka does not acknowledge within
	// storeDeadline is answered 503.
	Enabled bool
	// After is how long a batch waits for Kafka before it is spooled:
	// short, since the beacon's page may be closing, and far above a
	// healthy Kafka's acknowledgement (milliseconds).
	After time.Duration
	spool.Config
}

// DefaultSpooling spools after 250 ms into .data/footfall/spool under the
// working directory, as Prometheus keeps its data/ there: run from the
// repository that is beside what the local services write (and ignored by
// git); a server names a persistent disk with --collector-spool-dir.
func DefaultSpooling() Spooling {
	s := Spooling{Enabled: true, After: 250 * time.Millisecond, Config: spool.DefaultConfig()}
	s.Dir = ".data/footfall/spool"
	return s
}

// RegisterFlags binds s to fs.
func (s *Spooling) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&s.Enabled, "collector-spool", s.Enabled, "keep the batches Kafka does not acknowledge within --collector-spool-after in a disk spool, answer them 2xx and forward them when Kafka answers; false: wait for Kafka up to "+storeDeadline.String()+", then answer 503 with Retry-After")
	fs.DurationVar(&s.After, "collector-spool-after", s.After, "how long a batch waits for Kafka's acknowledgement before it goes to the spool; at most 500ms, as every batch is answered within "+storeDeadline.String())
	fs.StringVar(&s.Dir, "collector-spool-dir", s.Dir, "the spool's directory (relative: to the working directory), on a persistent disk; one collector per directory")
	fs.Int64Var(&s.MaxBytes, "collector-spool-max-bytes", s.MaxBytes, "most bytes the spool holds on disk; when full, batches Kafka does not take are answered 503 with Retry-After")
	fs.Int64Var(&s.SegmentBytes, "collector-spool-segment-bytes", s.SegmentBytes, "size of one spool file; disk space comes back in these steps as Kafka takes the spooled batches")
	fs.DurationVar(&s.FsyncInterval, "collector-spool-fsync-interval", s.FsyncInterval, "0: fsync each spooled batch before answering; otherwise fsync this often, and a power cut may lose what was answered in the last interval")
}

// Validate reports the first setting that cannot work.
func (s Spooling) Validate() error {
	if !s.Enabled {
		return nil
	}
	if s.After <= 0 || s.After > 500*time.Millisecond {
		return config.Invalid("collector-spool-after", s.After, "a positive duration of at most 500ms")
	}
	return s.Config.Validate()
}

// Reasons for a 503: no batch is refused for them, only deferred.
const (
	reasonKafkaUnavailable event.Reason = "kafka_unavailable"
	reasonSpoolFull        event.Reason = "spool_full"
	reasonSpoolTooLarge    event.Reason = "spool_too_large"
	reasonSpoolUnavailable event.Reason = "spool_unavailable"
)

var errKafkaUnavailable = errors.New("kafka did not acknowledge the batch")

// store returns once Kafka, or the spool, holds recs: Kafka when it
// acknowledges them within --collector-spool-after, the spool otherwise
// (the drainer forwards them later). Both ways it gives up at
// storeDeadline. While the spool holds records every batch goes behind
// them, so that a visitor's new events never reach Kafka before the older
// ones. A publish that timed out may still reach Kafka, and then its
// spooled copy too: consumers deduplicate by event id.
func (c *Collector) store(ctx context.Context, recs []kafka.Record) error {
	ctx, cancel := context.WithTimeout(ctx, storeDeadline)
	defer cancel()
	sp := c.deps.Spool
	if sp == nil {
		return c.publish(ctx, recs)
	}
	if sp.Usage().Records > 0 {
		return c.spool(ctx, recs)
	}
	kctx, kcancel := context.WithTimeout(ctx, c.cfg.Spool.After)
	err := c.publish(kctx, recs)
	kcancel()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil { // the client went away: nobody to answer
		return err
	}
	return c.spool(ctx, unstored(recs, err))
}

// publish sends recs to Kafka, timing the acknowledgement.
func (c *Collector) publish(ctx context.Context, recs []kafka.Record) error {
	start := time.Now()
	if err := c.deps.Publisher.Publish(ctx, recs); err != nil {
		c.m.kafkaErrors.Inc()
		return fmt.Errorf("%w: %w", errKafkaUnavailable, err)
	}
	c.m.produceTime.Observe(time.Since(start).Seconds())
	return nil
}

// unstored are the records of recs that err says Kafka did not store.
func unstored(recs []kafka.Record, err error) []kafka.Record {
	var perr *kafka.PublishError
	if !errors.As(err, &perr) || len(perr.Errs) != len(recs) {
		return recs
	}
	out := make([]kafka.Record, 0, len(recs))
	for _, i := range perr.Failed() {
		out = append(out, recs[i])
	}
	return out
}

// spool appends recs to the spool, waiting no longer than ctx: an append
// that outlives it may still complete, and the client's resend is then a
// duplicate, removed downstream by id.
func (c *Collector) spool(ctx context.Context, recs []kafka.Record) error {
	sp := c.deps.Spool
	first := sp.Usage().Records == 0
	done := make(chan error, 1)
	go func() { done <- sp.Append(ctx, recs) }()
	select {
	case err := <-done:
		if err != nil {
			return err
		}
	case <-ctx.Done():
		return fmt.Errorf("spool: append took over %s: %w", storeDeadline, ctx.Err())
	}
	if first {
		c.deps.Log.Warn("kafka did not acknowledge a batch in time; spooling batches until the spool is drained",
			"after", c.cfg.Spool.After.String())
	}
	return nil
}

// refuse answers 503 with Retry-After for a batch that neither Kafka nor
// the spool took: the client keeps it and sends it again.
func (c *Collector) refuse(ctx *gin.Context, err error) {
	var reason event.Reason
	var detail string
	switch {
	case errors.Is(err, spool.ErrFull):
		reason, detail = reasonSpoolFull, "Kafka did not take the batch in time and the collector's spool is full; events were not stored; retry"
	case errors.Is(err, spool.ErrTooLarge):
		reason, detail = reasonSpoolTooLarge, "Kafka did not take the batch in time and it is larger than the collector's whole spool; events were not stored; retry"
	case errors.Is(err, errKafkaUnavailable):
		reason, detail = reasonKafkaUnavailable, "Kafka did not take the batch within "+storeDeadline.String()+"; events were not stored; retry"
	default:
		reason, detail = reasonSpoolUnavailable, "Kafka did not take the batch in time and the spool could not: "+err.Error()+"; events were not stored; retry"
	}
	if c.refused.add(reason) {
		c.deps.Log.Error("batch not stored; answered 503 (more within "+refusalLogEvery.String()+" are counted, not logged)",
			"reason", reason, "err", err)
	}
	ctx.Header("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
	c.answer(ctx, http.StatusServiceUnavailable, batchResponse{Error: reason, Detail: detail})
}

// refusals counts the batches answered 503, by reason, and spaces their
// log lines: while the spool is full every request is refused.
type refusals struct {
	count *prometheus.CounterVec
	next  atomic.Int64 // unix ns before which a refusal is not logged
}

// refusalLogEvery is the least time between two logged refusals.
const refusalLogEvery = 10 * time.Second

func newRefusals(reg prometheus.Registerer) *refusals {
	r := &refusals{count: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "footfall_collector_batches_refused_total",
		Help: "Batches answered 503 because neither Kafka nor the spool took them in time, by reason; the client sends them again.",
	}, []string{"reason"})}
	reg.MustRegister(r.count)
	return r
}

// add counts one refusal and says whether to log it: the first of each
// refusalLogEvery.
func (r *refusals) add(reason event.Reason) bool {
	r.count.WithLabelValues(string(reason)).Inc()
	now := time.Now().UnixNano()
	next := r.next.Load()
	return now >= next && r.next.CompareAndSwap(next, now+int64(refusalLogEvery))
}

// readiness is the collector's readiness check on Kafka, given the
// producer's own. With a spool, Kafka being away degrades the collector
// but leaves it ready while the spool has room: a largest request body,
// or a tenth of the spool if that is less. /readyz says what it holds.
func (c *Collector) readiness(kafkaReady server.Check) server.Check {
	sp := c.deps.Spool
	if sp == nil {
		return kafkaReady
	}
	return func(ctx context.Context) error {
		err := kafkaReady(ctx)
		u := sp.Usage()
		full := u.MaxBytes-u.Bytes < min(c.cfg.MaxBodyBytes, u.MaxBytes/10)
		held := fmt.Sprintf("%d records, %d of %d bytes", u.Records, u.Bytes, u.MaxBytes)
		switch {
		case err != nil && full:
			return fmt.Errorf("%w; and the spool is full (%s): batches are answered 503", err, held)
		case err != nil:
			return server.Degraded(fmt.Errorf("%w; batches go to the spool (%s)", err, held))
		case u.Records > 0 && full:
			return fmt.Errorf("the spool is full (%s): batches are answered 503 until Kafka has taken some", held)
		case u.Records > 0:
			return server.Degraded(fmt.Errorf("the spool forwards what it holds to Kafka (%s); new batches go behind it", held))
		}
		return nil
	}
}

// openSpool opens the spool cfg asks for (nil when it is off). The process
// closes it after the listeners have finished their requests and before
// the producer, opened earlier.
func openSpool(cfg Spooling, d *app.Deps) (*spool.Spool, error) {
	if !cfg.Enabled {
		d.Log.Warn("the spool is off (--collector-spool=false): batches Kafka does not take within " + storeDeadline.String() + " are answered 503")
		return nil, nil
	}
	sp, err := spool.Open(cfg.Config, d.Ops.Registry(), d.Log)
	if err != nil {
		return nil, err
	}
	if err := d.Closer("collector spool", sp.Close); err != nil {
		return nil, errors.Join(err, sp.Close())
	}
	return sp, nil
}
