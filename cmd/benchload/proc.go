package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one process under test: a footfall service, or the bare
// handler this program also is.
type proc struct {
	name   string
	addr   string
	cmd    *exec.Cmd
	exited chan error
	log    string

	once    sync.Once
	stopErr error
}

// start runs argv with its output in logDir/name.log and waits until
// http://addr/readyz answers 200, or fails with the log's tail. env nil is
// this process's environment.
func start(ctx context.Context, logDir, name, addr string, env []string, argv ...string) (*proc, error) {
	log := filepath.Join(logDir, name+".log")
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Env = f, f, env
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, addr: addr, cmd: cmd, exited: make(chan error, 1), log: log}
	go func() { p.exited <- cmd.Wait(); f.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case err := <-p.exited:
			return nil, fmt.Errorf("%s exited while starting (%v): %s", name, err, tail(log))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s not ready on %s after 60s: %s", name, addr, tail(log))
		}
	}
}

// stop asks the process to drain and exit, and kills it after 30 s. Only
// the first call does it; later ones return its outcome.
func (p *proc) stop() error {
	p.once.Do(func() { p.stopErr = p.terminate() })
	return p.stopErr
}

func (p *proc) terminate() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("%s: %w: %s", p.name, err, tail(p.log))
		}
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not exit within 30s of SIGTERM: killed", p.name)
	}
}

// usage is a process's CPU time so far and its resident memory now.
type usage struct {
	at  time.Time
	cpu time.Duration
	rss int64 // bytes
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times: 100 on Linux.
const clockTick = 100

// usageOf reads /proc for pid (this process: os.Getpid()).
func usageOf(pid int) (usage, error) {
	u := usage{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14, stime 15, rss 24.
	rest := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	if len(rest) < 22 {
		return u, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(rest))
	}
	utime, _ := strconv.ParseInt(rest[11], 10, 64)
	stime, _ := strconv.ParseInt(rest[12], 10, 64)
	pages, _ := strconv.ParseInt(rest[21], 10, 64)
	u.cpu = time.Duration(utime+stime) * time.Second / clockTick
	u.rss = pages * int64(os.Getpagesize())
	return u, nil
}

// cores is the CPU the process used between a and b, in cores.
func cores(a, b usage) float64 {
	wall := b.at.Sub(a.at)
	if wall <= 0 {
		return 0
	}
	return float64(b.cpu-a.cpu) / float64(wall)
}

// tail is the end of a log, for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return fmt.Sprintf("(%s) ...%s", path, b)
}

// profile fetches a CPU profile of the next d from p's /debug/pprof (a
// footfall process started with --pprof) into logDir/name.pprof; wait
// returns once it is written. A process without pprof writes nothing.
func profile(ctx context.Context, p *proc, logDir, name string, d time.Duration) (wait func() string) {
	return pprof(ctx, p, logDir, name, fmt.Sprintf("profile?seconds=%d", max(1, int(d/time.Second))))
}

// heapProfile fetches p's heap profile now into logDir/name.pprof.
func heapProfile(ctx context.Context, p *proc, logDir, name string) string {
	return pprof(ctx, p, logDir, name, "heap")()
}

// pprof fetches /debug/pprof/what from p into logDir/name.pprof.
func pprof(ctx context.Context, p *proc, logDir, name, what string) (wait func() string) {
	done := make(chan string, 1)
	go func() {
		url := fmt.Sprintf("http://%s/debug/pprof/%s", p.addr, what)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- ""
			return
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			done <- ""
			return
		}
		path := filepath.Join(logDir, name+".pprof")
		f, err := os.Create(path)
		if err == nil {
			_, err = io.Copy(f, res.Body)
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			path = ""
		}
		done <- path
	}()
	return func() string { return <-done }
}
