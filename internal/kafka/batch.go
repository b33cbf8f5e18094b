package kafka

import (
	"errors"
	"flag"
	"time"
)

// BatchPolicy says when a consumer's batch is written: at Count messages, at
// Bytes of values, or Age after its first message, whichever comes first.
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

// Validate reports a policy that would never flush or never batch.
func (p BatchPolicy) Validate() error {
	if p.Count < 1 || p.Bytes < 1 || p.Age <= 0 {
		return errors.New("batch-count, batch-bytes and batch-age must be positive")
	}
	return nil
}

// Flush triggers, the label of footfall_consumer_batches_total.
const (
	triggerCount = "count"
	triggerBytes = "bytes"
	triggerAge   = "age"
	triggerDrain = "drain" // the session ended: rebalance or shutdown
)
