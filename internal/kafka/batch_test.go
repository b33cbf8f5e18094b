package kafka

import (
	"strings"
	"testing"
	"time"
)

func TestBatcherTriggers(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	rec := func(n int) Record { return Record{Value: []byte(strings.Repeat("x", n))} }
	tests := []struct {
		name    string
		policy  BatchPolicy
		sizes   []int  // value sizes added, one record each
		trigger string // returned by the last Add
	}{
		{"count reached", BatchPolicy{Count: 3, Bytes: 1 << 20, Age: time.Second}, []int{1, 1, 1}, TriggerCount},
		{"under count", BatchPolicy{Count: 3, Bytes: 1 << 20, Age: time.Second}, []int{1, 1}, ""},
		{"bytes reached", BatchPolicy{Count: 100, Bytes: 10, Age: time.Second}, []int{4, 6}, TriggerBytes},
		{"one big record", BatchPolicy{Count: 100, Bytes: 10, Age: time.Second}, []int{50}, TriggerBytes},
		{"count wins a tie", BatchPolicy{Count: 2, Bytes: 2, Age: time.Second}, []int{1, 1}, TriggerCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBatcher(tt.policy)
			var got string
			for i, n := range tt.sizes {
				got = b.Add(rec(n), t0)
				if i < len(tt.sizes)-1 && got != "" {
					t.Fatalf("record %d: trigger %q before the last record", i, got)
				}
			}
			if got != tt.trigger {
				t.Fatalf("trigger = %q, want %q", got, tt.trigger)
			}
		})
	}
}

func TestBatcherAgeFromFirstRecord(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	b := NewBatcher(BatchPolicy{Count: 10, Bytes: 1 << 20, Age: 50 * time.Millisecond})
	if _, ok := b.Deadline(); ok {
		t.Fatal("an empty batch has a deadline")
	}
	b.Add(Record{Offset: 1}, t0)
	b.Add(Record{Offset: 2}, t0.Add(40*time.Millisecond))
	due, ok := b.Deadline()
	if !ok || !due.Equal(t0.Add(50*time.Millisecond)) {
		t.Fatalf("deadline = %v, %v; want 50ms after the first record", due, ok)
	}
	got := b.Flush()
	if len(got) != 2 || got[0].Offset != 1 || got[1].Offset != 2 {
		t.Fatalf("flushed %+v, want offsets 1, 2 in order", got)
	}
	if b.Len() != 0 {
		t.Fatalf("len after flush = %d", b.Len())
	}
	if _, ok := b.Deadline(); ok {
		t.Fatal("a flushed batch still has a deadline")
	}
	// The next batch's age counts from its own first record, and its byte
	// count starts again from zero.
	b.Add(Record{Value: []byte("x")}, t0.Add(time.Second))
	if due, _ := b.Deadline(); !due.Equal(t0.Add(time.Second + 50*time.Millisecond)) {
		t.Fatalf("second batch deadline = %v", due)
	}
}

func TestBatchPolicyValidateNamesTheFlag(t *testing.T) {
	tests := []struct {
		policy BatchPolicy
		want   string
	}{
		{BatchPolicy{Count: 0, Bytes: 1, Age: time.Second}, "--loader-batch-count=0"},
		{BatchPolicy{Count: 1, Bytes: -5, Age: time.Second}, "--loader-batch-bytes=-5"},
		{BatchPolicy{Count: 1, Bytes: 1, Age: 0}, "--loader-batch-age=0s"},
	}
	for _, tt := range tests {
		err := tt.policy.Validate("loader")
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "FOOTFALL_LOADER_BATCH_") {
			t.Errorf("Validate(%+v) = %v, want it to name %s and its FOOTFALL_ twin", tt.policy, err, tt.want)
		}
	}
	if err := (BatchPolicy{Count: 1, Bytes: 1, Age: time.Millisecond}).Validate("loader"); err != nil {
		t.Errorf("a positive policy: %v", err)
	}
}
