package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/footfall/footfall/internal/testenv"
)

// TestIntegrationSpoolSurvivesKill9 runs `footfall collector` as a real
// process with Kafka away: batches are answered 200 from the spool while
// senders keep posting, and the process is killed with SIGKILL among
// them. A new process on the same spool directory, with Kafka reachable,
// forwards every event that was answered 200, then stops cleanly on
// SIGTERM with nothing left in the spool. The spool's own tests cover a
// kill in the middle of an append (collector/spool TestKill9, with both
// fsync policies) and the torn tail it leaves (TestTornTailIsSkippedAndCounted).
func TestIntegrationSpoolSurvivesKill9(t *testing.T) {
	kc := testenv.Kafka(t)
	bin := buildFootfall(t)
	spoolDir := t.TempDir()
	away := testenv.NewKafkaForwarder(t, kc.Brokers[0]) // never started: Kafka refuses

	first := startCollector(t, bin, away.Addr, kc.TopicPrefix, spoolDir)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		code, body := first.get("/readyz")
		return code == http.StatusOK && strings.Contains(body, `"degraded"`) && strings.Contains(body, "spool"),
			fmt.Sprintf("/readyz with Kafka away: %d %s; want 200 degraded, naming the spool", code, body)
	})

	// Four visitors post in turn until the process dies under them.
	const senders, perBatch, killAfter = 4, 5, 100
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	var (
		mu       sync.Mutex
		answered []string
		batches  int
		refused  []string
	)
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for seq := 0; ; seq++ {
				body, ids := visitorBatch(fmt.Sprintf("kill-visitor-%d", s), seq, perBatch)
				r, err := postBatch(client, first.url, body)
				if err != nil {
					return // the process is gone
				}
				mu.Lock()
				if r.status == http.StatusOK {
					answered = append(answered, ids...)
					if batches++; batches == killAfter {
						once.Do(func() { close(enough) })
					}
				} else {
					refused = append(refused, fmt.Sprintf("%d %s", r.status, r.reason))
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(30 * time.Second):
		t.Fatalf("fewer than %d batches answered 200 in 30 s", killAfter)
	}
	first.kill()
	wg.Wait()
	if len(refused) > 0 {
		t.Errorf("batches refused with Kafka away and room in the spool: %v", refused)
	}
	wal, _ := filepath.Glob(filepath.Join(spoolDir, "*.wal"))
	if len(wal) == 0 {
		t.Fatalf("no segment file in %s after the kill", spoolDir)
	}

	second := startCollector(t, bin, kc.Brokers[0], kc.TopicPrefix, spoolDir)
	probe := newKafkaProbe(t, kc)
	want := len(answered)
	held := map[string]int{}
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		clear(held)
		for _, r := range probe.snapshot()[kc.TopicPrefix+".pageview"] {
			id, _ := r.value["id"].(string)
			held[id]++
		}
		var missing []string
		for _, id := range answered {
			if held[id] == 0 {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d of the %d events answered 200 are not in Kafka after the restart, e.g. %v",
			len(missing), want, missing[:min(5, len(missing))])
	})
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		code, body := second.get("/readyz")
		return code == http.StatusOK && body == `{"status":"ready"}`+"\n", fmt.Sprintf("/readyz once drained: %d %s", code, body)
	})
	second.stop()
	if wal, _ := filepath.Glob(filepath.Join(spoolDir, "*.wal")); len(wal) != 0 {
		t.Errorf("segment files left after the drain and a clean stop: %v", wal)
	}
	t.Logf("killed after %d batches (%d events) answered 200; %d distinct events in Kafka after the restart, %d copies in all",
		batches, want, len(held), sumOf(held))
}

func sumOf(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// buildFootfall builds bin/footfall into a temporary directory.
func buildFootfall(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "footfall")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/footfall/footfall/cmd/footfall")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// collectorProcess is `footfall collector` running as a child process.
type collectorProcess struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	done chan error
}

// startCollector starts the collector on a free port with its spool in
// dir and waits until it answers /healthz.
func startCollector(t *testing.T, bin, brokers, prefix, dir string) *collectorProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "collector", "--log-format=text",
		"--collector-addr="+addr, "--kafka-brokers="+brokers, "--kafka-topic-prefix="+prefix,
		"--collector-sites="+liveSite+"="+liveKey, "--collector-spool-dir="+dir)
	for _, kv := range os.Environ() { // the flags alone say what the process does
		if !strings.HasPrefix(kv, "FOOTFALL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout, cmd.Stderr = t.Output(), t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &collectorProcess{t: t, cmd: cmd, url: "http://" + addr, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(p.kill)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		if p.exited() {
			t.Fatalf("footfall collector exited at start: %v", p.wait())
		}
		code, body := p.get("/healthz")
		return code == http.StatusOK, fmt.Sprintf("/healthz: %d %s", code, body)
	})
	return p
}

// get returns the status and body of GET path; 0 when nothing answers.
func (p *collectorProcess) get(path string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err.Error()
	}
	return res.StatusCode, string(b)
}

// exited says whether the process has ended.
func (p *collectorProcess) exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *collectorProcess) kill() {
	if p.exited() {
		return
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Errorf("kill: %v", err)
	}
	_ = p.wait()
}

// stop sends SIGTERM and checks that the process exits 0 within 15 s.
func (p *collectorProcess) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	if err := p.wait(); err != nil {
		p.t.Errorf("footfall collector after SIGTERM: %v, want exit status 0", err)
	}
}

func (p *collectorProcess) wait() error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(15 * time.Second):
		p.t.Errorf("footfall collector did not exit within 15 s")
		return errors.New("still running")
	}
}
