package alerts

import (
	"flag"
	"time"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/kafka"
)

// Config is the alerts worker's configuration. The rules themselves are
// data, in alert_rules (docs/alerts.md).
type Config struct {
	Group string
	Batch kafka.BatchPolicy
	// RulesRefresh is how often alert_rules is reread: an edit applies
	// within it, without a restart.
	RulesRefresh time.Duration
	// Lateness is how long after a window's end records may still arrive
	// for it: the window after one that fired is judged quiet only once
	// its end plus Lateness has passed, by the wall clock.
	Lateness time.Duration
	// MaxLag keeps history from paging anyone: a window that ended longer
	// ago than this when its count reaches the threshold is counted but
	// notifies nobody (a new group reading the topic from its start, a
	// worker catching up after a long outage).
	MaxLag time.Duration
	// ResolveInterval is how often fired windows are checked for the quiet
	// window that resolves them.
	ResolveInterval time.Duration

	// Delivery.
	WebhookTimeout      time.Duration
	DeliveryPoll        time.Duration
	DeliveryConcurrency int
	RetryInitial        time.Duration
	RetryMax            time.Duration
	DeliveryMaxAge      time.Duration
	// Retention is how long window counts and finished notifications are
	// kept; older rows are deleted hourly.
	Retention time.Duration
}

// DefaultConfig favours quick alerts: small batches, rules reread every 5 s.
func DefaultConfig() Config {
	return Config{
		Group:               "footfall-alerts",
		Batch:               kafka.BatchPolicy{Count: 1000, Bytes: 4 << 20, Age: 100 * time.Millisecond},
		RulesRefresh:        5 * time.Second,
		Lateness:            30 * time.Second,
		MaxLag:              time.Hour,
		ResolveInterval:     5 * time.Second,
		WebhookTimeout:      10 * time.Second,
		DeliveryPoll:        time.Second,
		DeliveryConcurrency: 2,
		RetryInitial:        2 * time.Second,
		RetryMax:            5 * time.Minute,
		DeliveryMaxAge:      6 * time.Hour,
		Retention:           7 * 24 * time.Hour,
	}
}

// RegisterFlags binds c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Group, "alerts-group", c.Group, "alerts consumer group id (its offsets are kept in PostgreSQL's consumer_offsets)")
	c.Batch.RegisterFlags(fs, "alerts")
	fs.DurationVar(&c.RulesRefresh, "alerts-rules-refresh", c.RulesRefresh, "how often alert_rules is reread; an edit applies within this")
	fs.DurationVar(&c.Lateness, "alerts-lateness", c.Lateness, "how long after a window's end its records may still arrive; a fired rule resolves once the next window has ended this long ago below its threshold")
	fs.DurationVar(&c.MaxLag, "alerts-max-lag", c.MaxLag, "a window that ended longer ago than this when it reaches its threshold is counted but notifies nobody (history, catching up)")
	fs.DurationVar(&c.ResolveInterval, "alerts-resolve-interval", c.ResolveInterval, "how often fired rules are checked for a quiet window")
	fs.DurationVar(&c.WebhookTimeout, "alerts-webhook-timeout", c.WebhookTimeout, "timeout of one webhook POST")
	fs.DurationVar(&c.DeliveryPoll, "alerts-delivery-poll", c.DeliveryPoll, "how often the outbox is checked for notifications due (new ones are sent at once)")
	fs.IntVar(&c.DeliveryConcurrency, "alerts-delivery-concurrency", c.DeliveryConcurrency, "webhook POSTs in flight at once per worker; each holds a PostgreSQL connection while it waits")
	fs.DurationVar(&c.RetryInitial, "alerts-retry-initial", c.RetryInitial, "wait before the first retry of a failed delivery; doubles per attempt")
	fs.DurationVar(&c.RetryMax, "alerts-retry-max", c.RetryMax, "longest wait between two attempts of a delivery")
	fs.DurationVar(&c.DeliveryMaxAge, "alerts-delivery-max-age", c.DeliveryMaxAge, "a notification not delivered this long after it was written is given up")
	fs.DurationVar(&c.Retention, "alerts-retention", c.Retention, "how long window counts and delivered or given-up notifications are kept")
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	positive := []struct {
		flag string
		v    time.Duration
	}{
		{"alerts-rules-refresh", c.RulesRefresh}, {"alerts-max-lag", c.MaxLag},
		{"alerts-resolve-interval", c.ResolveInterval}, {"alerts-webhook-timeout", c.WebhookTimeout},
		{"alerts-delivery-poll", c.DeliveryPoll}, {"alerts-retry-initial", c.RetryInitial},
		{"alerts-retry-max", c.RetryMax}, {"alerts-delivery-max-age", c.DeliveryMaxAge},
		{"alerts-retention", c.Retention},
	}
	switch {
	case c.Group == "":
		return config.Invalid("alerts-group", `""`, "a consumer group id")
	case c.Lateness < 0:
		return config.Invalid("alerts-lateness", c.Lateness, "zero or a positive duration")
	case c.DeliveryConcurrency < 1:
		return config.Invalid("alerts-delivery-concurrency", c.DeliveryConcurrency, "at least 1")
	}
	for _, p := range positive {
		if p.v <= 0 {
			return config.Invalid(p.flag, p.v, "a positive duration")
		}
	}
	if c.RetryMax < c.RetryInitial {
		return config.Invalid("alerts-retry-max", c.RetryMax, "at least --alerts-retry-initial ("+c.RetryInitial.String()+")")
	}
	if c.Retention < 24*time.Hour+c.MaxLag {
		return config.Invalid("alerts-retention", c.Retention, "at least a day plus --alerts-max-lag, the longest window plus the lag")
	}
	return c.Batch.Validate("alerts")
}
