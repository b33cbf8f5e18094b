package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Record is one Kafka message as Footfall's code sees it, whichever client
// carries it. Producers fill Topic, Key, Value and Headers; consumers also
// get Partition, Offset and Timestamp.
type Record struct {
	Topic     string
	Key       []byte
	Value     []byte
	Headers   []Header
	Partition int32
	Offset    int64
	Timestamp time.Time
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// Header returns the value of the first header named key, or nil.
func (r Record) Header(key string) []byte {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

// Publisher writes records to Kafka. Publish returns once every record is
// acknowledged, or when ctx ends; an error is a *PublishError telling which
// records failed. A record whose publish was cut short by ctx may still be
// stored: consumers deduplicate by event id.
type Publisher interface {
	Publish(ctx context.Context, recs []Record) error
}

// PublishError says which records of one Publish call were not stored.
type PublishError struct {
	// Errs[i] is why recs[i] failed, nil for a record that was stored.
	Errs []error
}

func (e *PublishError) Error() string {
	n, first := 0, error(nil)
	for _, err := range e.Errs {
		if err != nil {
			if n == 0 {
				first = err
			}
			n++
		}
	}
	return fmt.Sprintf("publish: %d of %d records failed: %v", n, len(e.Errs), first)
}

// Unwrap lets errors.Is see the causes, such as context.DeadlineExceeded.
func (e *PublishError) Unwrap() []error { return e.Errs }

// Failed lists the indexes of the records that were not stored.
func (e *PublishError) Failed() []int {
	var out []int
	for i, err := range e.Errs {
		if err != nil {
			out = append(out, i)
		}
	}
	return out
}

// failAll is a PublishError in which every one of n records failed with err.
func failAll(n int, err error) *PublishError {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return &PublishError{Errs: errs}
}

// ErrNotConnected is returned while no broker has answered yet.
var ErrNotConnected = errors.New("kafka: not connected")
