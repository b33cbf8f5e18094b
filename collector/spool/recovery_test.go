package spool

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/kafka"
)

// Kafka fails midway through a segment: that segment stays whole on disk
// while the ones before it, acknowledged, are gone. After a restart only
// what Kafka did not acknowledge is sent again.
func TestSegmentDeletedOnlyAfterAcknowledgement(t *testing.T) {
	noLeaks(t)
	cfg := testConfig(t)
	s, _ := open(t, cfg)
	appendBatches(t, s, 0, 24, 10)
	before := batchesIn(t, cfg.Dir)

	// The batch Kafka fails first: the second of a segment.
	var segs []uint64
	for seq := range before {
		segs = append(segs, seq)
	}
	slices.Sort(segs)
	held := segs[2]
	var acked int
	for _, seq := range segs[:2] {
		acked += len(before[seq])
	}
	acked++ // the first batch of segment held
	pub := &fakePublisher{fail: func(call int, recs []kafka.Record) error {
		if call > acked {
			return down(call, recs)
		}
		return nil
	}}
	stop := run(t, s, pub)
	waitFor(t, "Kafka to fail", func() bool { return pub.callCount() > acked+3 })
	stop()
	equal(t, "records in Kafka before the outage", pub.tags(), tags(0, acked, 10))
	after := batchesIn(t, cfg.Dir)
	if _, ok := after[segs[1]]; ok {
		t.Errorf("segment %d, all acknowledged, is still there", segs[1])
	}
	if !slices.Equal(after[held], before[held]) {
		t.Errorf("segment %d, partly acknowledged, holds %v; want all of %v", held, after[held], before[held])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, _ = open(t, cfg) // a restart
	pub = &fakePublisher{}
	run(t, s, pub)
	waitFor(t, "the rest drained", func() bool { return len(pub.tags()) == (24-acked)*10 })
	equal(t, "records sent after the restart", pub.tags(), tags(acked, 24, 10))
	waitFor(t, "every segment deleted", func() bool { return len(segmentFiles(t, cfg.Dir)) == 0 })
}

// Run stopped and started again in the same process resumes after the last
// acknowledged batch, within a segment too.
func TestRunAgainResumesWhereItStopped(t *testing.T) {
	noLeaks(t)
	cfg := testConfig(t)
	cfg.SegmentBytes = cfg.MaxBytes // one segment
	s, _ := open(t, cfg)
	appendBatches(t, s, 0, 6, 10)
	pub := &fakePublisher{fail: func(call int, recs []kafka.Record) error {
		if call > 3 {
			return down(call, recs)
		}
		return nil
	}}
	stop := run(t, s, pub)
	waitFor(t, "Kafka to fail", func() bool { return pub.callCount() > 5 })
	stop()
	equal(t, "records in Kafka before the outage", pub.tags(), tags(0, 3, 10))

	pub = &fakePublisher{}
	run(t, s, pub)
	waitFor(t, "the rest drained", func() bool { return len(pub.tags()) == 30 })
	equal(t, "records sent by the second Run", pub.tags(), tags(3, 6, 10))
}

// Without its checkpoint (a power cut can tear it) a restart sends the
// partly acknowledged segment from its start: duplicates, never a loss.
func TestLostCheckpointResendsTheSegment(t *testing.T) {
	noLeaks(t)
	cfg := testConfig(t)
	s, _ := open(t, cfg)
	appendBatches(t, s, 0, 6, 10)
	first := batchesIn(t, cfg.Dir)[segmentFiles(t, cfg.Dir)[0].seq]
	if len(first) < 2 {
		t.Fatalf("first segment holds %v; the test wants two batches or more", first)
	}
	pub := &fakePublisher{fail: func(call int, recs []kafka.Record) error {
		if call > 1 {
			return down(call, recs)
		}
		return nil
	}}
	stop := run(t, s, pub)
	waitFor(t, "Kafka to fail", func() bool { return pub.callCount() > 3 })
	stop()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Dir, checkpointFile), []byte("torn"), 0o640); err != nil {
		t.Fatal(err)
	}

	s, _ = open(t, cfg)
	pub = &fakePublisher{}
	run(t, s, pub)
	waitFor(t, "everything drained", func() bool { return len(pub.tags()) == 60 })
	equal(t, "records sent after the restart", pub.tags(), tags(0, 6, 10))
}

// A crash mid-append leaves a torn frame at the end of the last segment.
// It is skipped and counted; the batches before it drain, and so do those
// appended after the restart.
func TestTornTailIsSkippedAndCounted(t *testing.T) {
	for _, c := range []struct {
		name string
		cut  func(frameStart, frameEnd int64) int64 // the torn file's size
	}{
		{"mid payload", func(start, end int64) int64 { return (start + end) / 2 }},
		{"mid header", func(start, _ int64) int64 { return start + 6 }},
		{"magic only", func(start, _ int64) int64 { return start + 4 }},
		{"all but the last byte", func(_, end int64) int64 { return end - 1 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			noLeaks(t)
			cfg := testConfig(t)
			cfg.SegmentBytes = cfg.MaxBytes // one segment
			s, _ := open(t, cfg)
			appendBatches(t, s, 0, 3, 10)
			path := segmentPath(cfg.Dir, segmentFiles(t, cfg.Dir)[0].seq)
			start := fileSize(t, path)
			appendBatches(t, s, 3, 4, 10)
			end := fileSize(t, path)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, c.cut(start, end)); err != nil {
				t.Fatal(err)
			}

			s, reg := open(t, cfg)
			if got := metric(t, reg, "footfall_collector_spool_records"); got != 30 {
				t.Errorf("spool_records after reopening = %v; want 30 (the torn batch is not counted)", got)
			}
			appendBatches(t, s, 4, 5, 10)
			pub := &fakePublisher{}
			run(t, s, pub)
			waitFor(t, "40 records", func() bool { return len(pub.tags()) == 40 })
			equal(t, "records in Kafka", pub.tags(), slices.Concat(tags(0, 3, 10), tags(4, 5, 10)))
			if got := metric(t, reg, "footfall_collector_spool_corrupt_total"); got != 1 {
				t.Errorf("corrupt_total = %v; want 1", got)
			}
			waitFor(t, "every segment deleted", func() bool { return len(segmentFiles(t, cfg.Dir)) == 0 })
		})
	}
}

// Damage inside a segment costs the batch it hits; the reader finds the
// next whole frame and goes on. Batches published together stop at the
// damage: those before it go first.
func TestFlippedByteSkipsOneBatch(t *testing.T) {
	type damage struct {
		name    string
		at      func(frameStart, frameEnd int64) int64
		grouped bool
	}
	var cases []damage
	for _, grouped := range []bool{false, true} {
		for _, c := range []damage{
			{name: "in the payload", at: func(start, end int64) int64 { return (start + end) / 2 }},
			{name: "in the length", at: func(start, _ int64) int64 { return start + 5 }},
			{name: "in the magic", at: func(start, _ int64) int64 { return start }},
			{name: "in the checksum", at: func(start, _ int64) int64 { return start + 9 }},
		} {
			if c.grouped = grouped; grouped {
				c.name += ", batches published together"
			}
			cases = append(cases, c)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			noLeaks(t)
			cfg := testConfig(t)
			cfg.SegmentBytes = cfg.MaxBytes // one segment
			s, _ := open(t, cfg)
			appendBatches(t, s, 0, 2, 10)
			path := segmentPath(cfg.Dir, segmentFiles(t, cfg.Dir)[0].seq)
			start := fileSize(t, path)
			appendBatches(t, s, 2, 3, 10)
			end := fileSize(t, path)
			appendBatches(t, s, 3, 5, 10)
			if n := len(segmentFiles(t, cfg.Dir)); n != 1 {
				t.Fatalf("%d segments; the test wants one", n)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			flip(t, path, c.at(start, end))

			s, reg := open(t, cfg)
			if c.grouped {
				s.groupBytes = cfg.MaxBytes
			}
			pub := &fakePublisher{}
			run(t, s, pub)
			waitFor(t, "40 records", func() bool { return len(pub.tags()) == 40 })
			equal(t, "records in Kafka", pub.tags(), slices.Concat(tags(0, 2, 10), tags(3, 5, 10)))
			if got := metric(t, reg, "footfall_collector_spool_corrupt_total"); got != 1 {
				t.Errorf("corrupt_total = %v; want 1", got)
			}
		})
	}
}

func TestReopenDrainsWhatWasThere(t *testing.T) {
	noLeaks(t)
	cfg := testConfig(t)
	s, _ := open(t, cfg)
	appendBatches(t, s, 0, 20, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, reg := open(t, cfg)
	if got := metric(t, reg, "footfall_collector_spool_records"); got != 200 {
		t.Errorf("spool_records after reopening = %v; want 200", got)
	}
	if got := metric(t, reg, "footfall_collector_spool_oldest_seconds"); got <= 0 {
		t.Errorf("spool_oldest_seconds after reopening = %v; want the first batch's age", got)
	}
	appendBatches(t, s, 20, 22, 10)
	pub := &fakePublisher{}
	run(t, s, pub)
	waitFor(t, "220 records", func() bool { return len(pub.tags()) == 220 })
	equal(t, "records in Kafka", pub.tags(), tags(0, 22, 10))
}

func TestMetrics(t *testing.T) {
	noLeaks(t)
	cfg := testConfig(t)
	s, reg := open(t, cfg)
	var clock struct {
		sync.Mutex
		now time.Time
	}
	clock.now = time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.now }
	advance := func(d time.Duration) { clock.Lock(); defer clock.Unlock(); clock.now = clock.now.Add(d) }

	appendBatches(t, s, 0, 2, 10)
	advance(30 * time.Second)
	appendBatches(t, s, 2, 3, 10)
	advance(60 * time.Second)
	var onDisk int64
	for _, seg := range segmentFiles(t, cfg.Dir) {
		onDisk += seg.size
	}
	for name, want := range map[string]float64{
		"footfall_collector_spool_bytes":          float64(onDisk),
		"footfall_collector_spool_records":        30,
		"footfall_collector_spool_oldest_seconds": 90,
		"footfall_collector_spool_appended_total": 30,
		"footfall_collector_spool_drained_total":  0,
	} {
		if got := metric(t, reg, name); got != want {
			t.Errorf("before draining, %s = %v; want %v", name, got, want)
		}
	}
	if got, want := s.Usage(), (Usage{Records: 30, Bytes: onDisk, MaxBytes: cfg.MaxBytes}); got != want {
		t.Errorf("Usage() = %+v; want %+v", got, want)
	}

	pub := &fakePublisher{fail: func(call int, recs []kafka.Record) error {
		if call <= 2 {
			return down(call, recs)
		}
		return nil
	}}
	run(t, s, pub)
	waitFor(t, "30 records", func() bool { return len(pub.tags()) == 30 })
	waitFor(t, "the segments deleted", func() bool { return metric(t, reg, "footfall_collector_spool_bytes") == 0 })
	for name, want := range map[string]float64{
		"footfall_collector_spool_records":            0,
		"footfall_collector_spool_oldest_seconds":     0,
		"footfall_collector_spool_drained_total":      30,
		"footfall_collector_spool_drain_errors_total": 2,
		"footfall_collector_spool_corrupt_total":      0,
	} {
		if got := metric(t, reg, name); got != want {
			t.Errorf("after draining, %s = %v; want %v", name, got, want)
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// flip inverts one byte of the file at path.
func flip(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], at); err != nil {
		t.Fatal(err)
	}
}
