package kafka

import (
	"flag"
	"time"

	"github.com/footfall/footfall/internal/config"
)

// BatchPolicy says when a consumer's batch is written: at Count records, at
// Bytes of values, or Age after its first record, whichever comes first.
type BatchPolicy struct {
	Count int
	Bytes int
	Age   time.Duration
}

// RegisterFlags binds p to fs as PREFIX-batch-count, -bytes and -age, so
// services running in one process keep separate policies.
func (p *BatchPolicy) RegisterFlags(fs *flag.FlagSet, prefix string) {
	fs.IntVar(&p.Count, prefix+"-batch-count", p.Count, "write a batch at this many messages")
	fs.IntVar(&p.Bytes, prefix+"-batch-bytes", p.Bytes, "write a batch at this many bytes of message values")
	fs.DurationVar(&p.Age, prefix+"-batch-age", p.Age, "write a batch this long after its first message")
}

// Validate reports a policy that would never flush or never batch; prefix
// is the one given to RegisterFlags, so the error names the flag.
func (p BatchPolicy) Validate(prefix string) error {
	switch {
	case p.Count < 1:
		return config.Invalid(prefix+"-batch-count", p.Count, "at least 1")
	case p.Bytes < 1:
		return config.Invalid(prefix+"-batch-bytes", p.Bytes, "at least 1")
	case p.Age <= 0:
		return config.Invalid(prefix+"-batch-age", p.Age, "a positive duration")
	}
	return nil
}

// Flush triggers, the label of footfall_consumer_batches_total.
const (
	TriggerCount = "count"
	TriggerBytes = "bytes"
	TriggerAge   = "age"
	TriggerDrain = "drain" // the session ended: rebalance or shutdown
)

// Batcher collects records under a BatchPolicy. It keeps no clock and
// starts no timer: the caller passes the time in, asks Deadline when the
// age trigger is due and Flushes, so the policy is tested without waiting.
type Batcher struct {
	policy BatchPolicy
	recs   []Record
	bytes  int
	first  time.Time
}

// NewBatcher returns an empty Batcher.
func NewBatcher(p BatchPolicy) *Batcher { return &Batcher{policy: p} }

// Add appends r, received at now, and returns the trigger that makes the
// batch due (TriggerCount or TriggerBytes), or "" while it is not.
func (b *Batcher) Add(r Record, now time.Time) string {
	if len(b.recs) == 0 {
		b.first = now
	}
	b.recs = append(b.recs, r)
	b.bytes += len(r.Value)
	switch {
	case len(b.recs) >= b.policy.Count:
		return TriggerCount
	case b.bytes >= b.policy.Bytes:
		return TriggerBytes
	}
	return ""
}

// Deadline is when the age trigger fires; ok is false for an empty batch.
func (b *Batcher) Deadline() (t time.Time, ok bool) {
	if len(b.recs) == 0 {
		return time.Time{}, false
	}
	return b.first.Add(b.policy.Age), true
}

// Len is the number of records held.
func (b *Batcher) Len() int { return len(b.recs) }

// Flush returns the records held, in the order added, and empties b.
func (b *Batcher) Flush() []Record {
	out := b.recs
	b.recs, b.bytes = nil, 0
	return out
}
