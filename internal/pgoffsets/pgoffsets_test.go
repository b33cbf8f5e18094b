package pgoffsets_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/pgoffsets"
)

func TestPartitionsAndAfter(t *testing.T) {
	rec := func(topic string, partition int32, offset int64) kafka.Record {
		return kafka.Record{Topic: topic, Partition: partition, Offset: offset}
	}
	for _, tc := range []struct {
		name      string
		recs      []kafka.Record
		wantParts []pgoffsets.Partition
		wantAfter map[pgoffsets.Partition]int64
	}{
		{name: "no records", wantAfter: map[pgoffsets.Partition]int64{}},
		{
			name:      "one partition",
			recs:      []kafka.Record{rec("s", 3, 7), rec("s", 3, 8)},
			wantParts: []pgoffsets.Partition{{Topic: "s", Partition: 3}},
			wantAfter: map[pgoffsets.Partition]int64{{Topic: "s", Partition: 3}: 9},
		},
		{
			// By topic first, then by number (10 after 2, not as text).
			name: "partitions out of order, with repeats",
			recs: []kafka.Record{rec("search", 10, 4), rec("click", 2, 9), rec("search", 2, 1), rec("search", 10, 2), rec("click", 2, 5)},
			wantParts: []pgoffsets.Partition{
				{Topic: "click", Partition: 2}, {Topic: "search", Partition: 2}, {Topic: "search", Partition: 10},
			},
			wantAfter: map[pgoffsets.Partition]int64{
				{Topic: "click", Partition: 2}: 10, {Topic: "search", Partition: 2}: 2, {Topic: "search", Partition: 10}: 5,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pgoffsets.Partitions(tc.recs); !slices.Equal(got, tc.wantParts) {
				t.Errorf("Partitions = %v, want %v", got, tc.wantParts)
			}
			if got := pgoffsets.After(tc.recs); !maps.Equal(got, tc.wantAfter) {
				t.Errorf("After = %v, want %v", got, tc.wantAfter)
			}
		})
	}
}
