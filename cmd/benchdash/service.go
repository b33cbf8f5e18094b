package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ensureData generates the site's events unless the database has them,
// and returns the time of the newest. A database with some but too few is
// left alone: a generator run that stopped resumes only with the end it
// used (its first log line), so the operator decides.
func ensureData(ctx context.Context, conn driver.Conn, o options) (time.Time, error) {
	count := func() (uint64, time.Time, error) {
		var tables uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 'events'", o.ch.Database).Scan(&tables); err != nil || tables == 0 {
			return 0, time.Time{}, err
		}
		var n uint64
		var newest time.Time
		err := conn.QueryRow(ctx, "SELECT count(), max(time) FROM "+o.ch.Database+".events WHERE site_id = ?", o.site).Scan(&n, &newest)
		return n, newest, err
	}
	n, newest, err := count()
	if err != nil {
		return time.Time{}, fmt.Errorf("count events of %s in %s: %w", o.site, o.ch.Database, err)
	}
	switch {
	case n >= uint64(o.events):
		fmt.Printf("%s holds %d events of site %s: no need to generate\n", o.ch.Database, n, o.site)
		return newest, nil
	case n > 0:
		return time.Time{}, fmt.Errorf("%s holds %d events of site %s, fewer than %d: resume with `%s generate --clickhouse-database %s --generate-end <the end it logged>`, or drop the database",
			o.ch.Database, n, o.site, o.events, o.footfall, o.ch.Database)
	}
	log := filepath.Join(o.logDir, "benchdash-generate.log")
	fmt.Printf("generating %d events of site %s into %s (log: %s); on 2 cores this takes minutes\n", o.events, o.site, o.ch.Database, log)
	cmd := exec.CommandContext(ctx, o.footfall, "generate", "--log-format", "text",
		"--clickhouse-addr", o.ch.Addr, "--clickhouse-database", o.ch.Database,
		"--generate-site", o.site, "--generate-events", strconv.Itoa(o.events))
	f, err := os.Create(log)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		return time.Time{}, fmt.Errorf("footfall generate (see %s): %w", log, err)
	}
	if n, newest, err = count(); err != nil || n < uint64(o.events) {
		return time.Time{}, errors.Join(err, fmt.Errorf("after generating, %s holds %d events of %s", o.ch.Database, n, o.site))
	}
	return newest, nil
}

// dashboard is the benchmark's own `footfall dashboard` process.
type dashboard struct {
	cmd    *exec.Cmd
	exited chan error
	site   string
	base   string
	key    string
	log    string
}

// startDashboard runs the dashboard on the bench database under a fresh
// key, with pprof on for profiling, and waits until it is ready.
func startDashboard(ctx context.Context, o options) (*dashboard, error) {
	// Another process on the address would answer the readiness probe
	// and the requests in the dashboard's place.
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("the benchmark's dashboard address %s is taken (pass --addr): %w", o.addr, err)
	}
	if err := ln.Close(); err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	d := &dashboard{
		site:   o.site,
		base:   "http://" + o.addr,
		key:    hex.EncodeToString(secret),
		log:    filepath.Join(o.logDir, "benchdash-dashboard.log"),
		exited: make(chan error, 1),
	}
	f, err := os.Create(d.log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d.cmd = exec.Command(o.footfall, "dashboard", "--log-format", "text", "--pprof",
		"--clickhouse-addr", o.ch.Addr, "--clickhouse-database", o.ch.Database,
		"--dashboard-addr", o.addr, "--dashboard-keys", o.site+"="+d.key)
	d.cmd.Stdout, d.cmd.Stderr = f, f
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s dashboard: %w", o.footfall, err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-d.exited:
			return nil, fmt.Errorf("footfall dashboard exited (see %s): %w", d.log, err)
		case <-ctx.Done():
			d.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if res, err := http.Get(d.base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				fmt.Printf("dashboard ready at %s (log: %s; profile: curl %s/debug/pprof/profile?seconds=20)\n", d.base, d.log, d.base)
				return d, nil
			}
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("footfall dashboard not ready at %s/readyz after 30s (see %s)", d.base, d.log)
		}
	}
}

// stop asks the dashboard to shut down and kills it if it takes long.
func (d *dashboard) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

// pageURL opens the page with the key in the fragment, as `make up`
// prints it: the page stores the key and drops the fragment.
func (d *dashboard) pageURL() string {
	return d.base + "/#site=" + d.site + "&key=" + d.key
}

// load is one page load in Chromium: from navigation to every panel
// filled, in milliseconds, and what went wrong on the page.
type load struct {
	Run     int      `json:"run"`
	Visit   string   `json:"visit"` // first, or return (same browser context)
	ReadyMs float64  `json:"ready_ms"`
	Failed  []string `json:"failed"`
	Errors  []string `json:"errors"`
}

// pageReady loads the page o.pageRuns times with pageready.mjs, each in a
// fresh browser context (no cache, no stored key), then once more in that
// context as a returning visitor.
func pageReady(ctx context.Context, o options, d *dashboard) ([]load, error) {
	modules := o.nodeModules
	if modules == "" {
		for _, m := range []string{"dashboard/web/node_modules", "sdk-js/node_modules"} {
			if _, err := os.Stat(filepath.Join(m, "playwright-core")); err == nil {
				modules = m
				break
			}
		}
	}
	if modules == "" {
		return nil, errors.New("no node_modules with playwright-core: npm ci in dashboard/web or sdk-js, or pass --node-modules")
	}
	modules, err := filepath.Abs(modules)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "node", o.pageScript, modules, o.chromium, d.pageURL(), strconv.Itoa(o.pageRuns))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("node %s: %w", o.pageScript, err)
	}
	var loads []load
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var l load
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			fmt.Println(sc.Text())
			continue
		}
		loads = append(loads, l)
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("node %s: %w", o.pageScript, err)
	}
	return loads, nil
}
