package spool

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A collector killed with SIGKILL while appending: every batch whose
// Append had returned reaches Kafka after the restart, with either fsync
// policy (a killed process's writes are in the page cache already).
func TestKill9(t *testing.T) {
	if dir := os.Getenv(spoolChild); dir != "" {
		interval, _ := time.ParseDuration(os.Getenv(spoolChild + "_FSYNC"))
		appendUntilKilled(dir, interval)
		return
	}
	for _, interval := range []time.Duration{0, 100 * time.Millisecond} {
		t.Run(fmt.Sprintf("fsync_interval_%v", interval), func(t *testing.T) {
			noLeaks(t)
			cfg := testConfig(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$", "-test.count=1")
			cmd.Env = append(os.Environ(), spoolChild+"="+cfg.Dir, spoolChild+"_FSYNC="+interval.String())
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = t.Output()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Each line is a batch whose Append returned; kill after 300 of them.
			var appended int
			lines := bufio.NewScanner(out)
			for lines.Scan() {
				if _, err := strconv.Atoi(lines.Text()); err != nil {
					continue // the test framework's own output
				}
				if appended++; appended == 300 {
					if err := cmd.Process.Kill(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := cmd.Wait(); err == nil || appended < 300 {
				t.Fatalf("the appending process ended by itself after %d batches: %v", appended, err)
			}

			s, reg := open(t, cfg)
			pub := &fakePublisher{}
			run(t, s, pub)
			waitFor(t, "the spool drained", func() bool { return metric(t, reg, "footfall_collector_spool_records") == 0 })
			got, want := pub.tags(), tags(0, appended, 10)
			// The batch being written when the process died may be there or not.
			if len(got) > len(want) {
				got = got[:len(want)]
			}
			equal(t, "records in Kafka", got, want)
			torn := metric(t, reg, "footfall_collector_spool_corrupt_total")
			if torn > 1 {
				t.Errorf("corrupt_total = %v; a kill tears one frame at most", torn)
			}
			t.Logf("killed after %d acknowledged batches; %d records drained, %v torn frames", appended, len(pub.tags()), torn)
		})
	}
}

// spoolChild is the environment variable that makes TestKill9 the process
// being killed: it names the spool directory.
const spoolChild = "FOOTFALL_SPOOL_TEST_CHILD"

func appendUntilKilled(dir string, interval time.Duration) {
	cfg := DefaultConfig()
	cfg.Dir, cfg.SegmentBytes, cfg.FsyncInterval = dir, 64<<10, interval
	s, err := Open(cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		if err := s.Append(context.Background(), beaconBatch(i, 10)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(i)
	}
}
