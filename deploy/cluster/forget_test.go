package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/testenv"
)

// TestClusterForget: a visitor is forgotten and a day rebuilt on the
// cluster, while a load runs, with loaders that write without an insert
// quorum (see below).
//
// Users A (two devices) and B visit the site "forget", and B's visits are
// copied to the site "control"; the shop's server sends them with server
// keys, so their identify events link each device to its user. `footfall
// forget --site forget --user user-a` then leaves no table on any of the
// four ClickHouse servers holding A's ids, and the site's rollups equal the
// control site's (B alone). Three visits of a day three days ago go to the
// site "rebuild"; the site's visits and rollup rows are deleted (the day
// spoilt), and `footfall replay --rebuild clickhouse` of that day puts back
// exactly what the live loaders wrote.
//
// Why no quorum: ClickHouse 18.16 never mutates the newest part written
// with a quorum in each partition until another quorum insert into that
// partition follows (current releases skip only a part whose quorum is
// still in progress). A delete over a table with a partition no longer
// written to, such as a past day's, never finishes there. TestCluster
// keeps the quorum, which its replica failure needs (docs/scale-out.md).
func TestClusterForget(t *testing.T) {
	if os.Getenv("FOOTFALL_CLUSTER") != "1" {
		t.Skip("cluster test: needs the local cluster; run it with `make cluster-test`")
	}
	c := newCluster(t)
	c.setEnv("FOOTFALL_CLICKHOUSE_INSERT_QUORUM", "0")
	c.serverKeys()
	c.migrate()
	procs := []string{"collector-1", "loader-1", "loader-2", "enricher-1"}
	for _, name := range procs {
		c.start(name)
	}
	c.ready(procs...)
	forget, rebuild := &forgetCase{c: c}, &rebuildCase{c: c}
	forget.seed()
	rebuild.seed()

	const rate = 20
	t.Logf("load %d visits/s (%d events/s) while the day is rebuilt and the visitor forgotten", rate, rate*5)
	l := startLoad(t, c, rate)
	rebuild.run()
	forget.run()
	sent := l.stop()
	t.Logf("load: %d visits, %d events answered 2xx, %d events never answered 2xx", sent.visits, len(sent.events), sent.unanswered)

	c.checkClickHouse(sent)
	forget.check()
	rebuild.check()
}

// The sites of the forget case.
const (
	forgetSite  = "forget"
	controlSite = "control"
)

type forgetCase struct {
	c             *cluster
	aIDs          []string // user-a and its anonymous ids
	controlBefore []string // the control site's rollups before the forget

	out  []byte
	err  error
	took time.Duration
}

// seed sends the visits and waits until ClickHouse and PostgreSQL hold
// them and their rollups.
func (f *forgetCase) seed() {
	t := f.c.t
	type visitor struct{ anon, user, session string }
	a1 := visitor{"anon-a1-" + randomHex(4), "user-a", uuid.NewString()}
	a2 := visitor{"anon-a2-" + randomHex(4), "user-a", uuid.NewString()}
	b1 := visitor{"anon-b1-" + randomHex(4), "user-b", uuid.NewString()}
	b2 := visitor{b1.anon, "user-b", uuid.NewString()}
	f.aIDs = []string{"user-a", a1.anon, a2.anon}
	now := time.Now()
	earlier, later := now.Add(-70*time.Minute), now.Add(-2*time.Minute) // two hours
	sites := map[string][]map[string]any{}
	for _, s := range []struct {
		v  visitor
		at time.Time
	}{{a1, earlier}, {b1, earlier}, {a2, later}, {b2, later}} {
		sites[forgetSite] = append(sites[forgetSite], serverVisit(s.v.anon, s.v.user, s.v.session, s.at)...)
		if s.v.user == "user-b" {
			sites[controlSite] = append(sites[controlSite], serverVisit(s.v.anon, s.v.user, s.v.session, s.at)...)
		}
	}
	for site, events := range sites {
		f.c.sendAsServer(site, events)
	}

	ctx := context.Background()
	conn := f.c.clickhouse(f.c.chAddrs)
	defer func() { _ = conn.Close() }()
	testenv.Eventually(t, 2*time.Minute, func() (bool, string) {
		var events, ctlEvents uint64
		var visits, ctlVisits int64
		if err := conn.QueryRow(ctx, `SELECT countIf(site_id = ?), countIf(site_id = ?) FROM events`, forgetSite, controlSite).Scan(&events, &ctlEvents); err != nil {
			return false, err.Error()
		}
		if err := conn.QueryRow(ctx, `SELECT sumMergeIf(visits, site_id = ?), sumMergeIf(visits, site_id = ?) FROM sessions_hourly WHERE dimension = ''`,
			forgetSite, controlSite).Scan(&visits, &ctlVisits); err != nil {
			return false, err.Error()
		}
		// A visit's events come on several topics, so in one batch or
		// more: its row (and rollup rows) may be written again once
		// more of them are in. Done is every event counted in a visit.
		var inVisits, ctlInVisits int64
		if err := conn.QueryRow(ctx, `SELECT sumIf(sign * events, site_id = ?), sumIf(sign * events, site_id = ?) FROM sessions`,
			forgetSite, controlSite).Scan(&inVisits, &ctlInVisits); err != nil {
			return false, err.Error()
		}
		var links int
		if err := f.c.postgres().QueryRow(ctx, `SELECT count(*) FROM identities WHERE site_id = $1`, forgetSite).Scan(&links); err != nil {
			return false, err.Error()
		}
		n, ctl := len(sites[forgetSite]), len(sites[controlSite])
		if !(events == uint64(n) && ctlEvents == uint64(ctl) && visits == 4 && ctlVisits == 2 &&
			inVisits == int64(n) && ctlInVisits == int64(ctl) && links == 3) {
			return false, fmt.Sprintf("events %d of %d and %d of %d, visits %d of 4 and %d of 2 counting %d and %d events, identity links %d of 3",
				events, n, ctlEvents, ctl, visits, ctlVisits, inVisits, ctlInVisits, links)
		}
		// Once the loaders have committed everything, read the control
		// site's figures as every server reads them: without an insert
		// quorum one replica may not have fetched the last part yet.
		if lag := f.c.lag(f.c.loaderGroup, false); lag != 0 {
			return false, fmt.Sprintf("the loaders are %d records behind", lag)
		}
		var differ string
		f.controlBefore, differ = onEveryServer(f.c, func(conn driver.Conn) []string { return rollups(f.c, conn, controlSite) })
		return differ == "", "the control site's rollups: " + differ
	})
	if len(f.controlBefore) == 0 {
		t.Fatal("the control site has no rollups")
	}
	t.Logf("forget case: %d events of users a and b on %q, b's %d on %q, loaded", len(sites[forgetSite]), forgetSite, len(sites[controlSite]), controlSite)
}

// run runs `footfall forget` as an operator would, against the cluster.
func (f *forgetCase) run() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.c.bin, "forget", "--site", forgetSite, "--user", "user-a")
	cmd.Env = f.c.env
	f.c.t.Logf("%s  forget: footfall forget --site %s --user user-a", time.Now().Format("15:04:05.000"), forgetSite)
	start := time.Now()
	f.out, f.err = cmd.CombinedOutput()
	f.took = time.Since(start)
	f.c.t.Logf("%s  forget: done in %v", time.Now().Format("15:04:05.000"), f.took.Round(10*time.Millisecond))
}

// check: the forget succeeded, no ClickHouse server holds A in any
// table, PostgreSQL no longer links A, and the site's rollups are B's.
func (f *forgetCase) check() {
	t := f.c.t
	if f.err != nil {
		t.Errorf("footfall forget after %v: %v\n%s", f.took, f.err, f.out)
		return
	}
	t.Logf("footfall forget took %v:\n%s", f.took.Round(10*time.Millisecond), lastLines(string(f.out), 16))
	ctx := context.Background()
	for _, addr := range strings.Split(f.c.chAddrs, ",") {
		conn := f.c.clickhouse(addr)
		held := testenv.Holding(t, conn, "engine LIKE 'Replicated%'", f.aIDs)
		_ = conn.Close()
		if len(held) > 0 {
			t.Errorf("clickhouse %s still holds user-a: %s", addr, strings.Join(held, "; "))
		}
	}
	var links int
	if err := f.c.postgres().QueryRow(ctx, `SELECT count(*) FROM identities WHERE site_id = $1 AND user_id = 'user-a'`, forgetSite).Scan(&links); err != nil {
		t.Fatal(err)
	}
	if links != 0 {
		t.Errorf("postgresql: %d identity links of user-a remain", links)
	}
	conn := f.c.clickhouse(f.c.chAddrs)
	defer func() { _ = conn.Close() }()
	if got := rollups(f.c, conn, controlSite); !slices.Equal(got, f.controlBefore) {
		t.Errorf("the control site's rollups changed:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(f.controlBefore, "\n"))
	}
	if got := rollups(f.c, conn, forgetSite); !slices.Equal(got, f.controlBefore) {
		t.Errorf("after the forget, the site's rollups are\n%s\nwant the control site's (user b alone)\n%s", strings.Join(got, "\n"), strings.Join(f.controlBefore, "\n"))
	} else {
		t.Logf("forget: no server holds user-a; the site's %d rollup lines equal the control site's", len(got))
	}
}

// serverVisit is a visit as a shop's server reports it: an identify,
// a page view, a search for humidifiers and a view of their page, a
// second apart from at.
func serverVisit(anon, user, session string, at time.Time) []map[string]any {
	base := func(typ string, i int) map[string]any {
		return map[string]any{"id": uuid.NewString(), "type": typ, "ts": at.Add(time.Duration(i) * time.Second).UnixMilli(),
			"anonymous_id": anon, "user_id": user, "session_id": session, "page": page("/")}
	}
	search := base("search", 2)
	search["search"] = map[string]any{"keyword": "humidifier", "results": 4}
	view := base("pageview", 3)
	view["page"] = page("/p/humidifiers")
	return []map[string]any{base("identify", 0), base("pageview", 1), search, view}
}

// serverSites are the sites the shop's server sends to with a server key
// (and a write key no one uses), for the forget and rebuild cases.
var serverSites = []string{forgetSite, controlSite, rebuildSite}

// serverKeys makes the sites' keys, and sets the collectors' flags.
func (c *cluster) serverKeys() {
	c.keys = map[string]string{}
	sites := []string{"demo=" + c.writeKey}
	var keys []string
	for _, s := range serverSites {
		c.keys[s] = "sk_" + randomHex(8)
		sites = append(sites, s+"=wk_"+randomHex(8))
		keys = append(keys, s+"="+c.keys[s])
	}
	c.setEnv("FOOTFALL_COLLECTOR_SITES", strings.Join(sites, ","))
	c.setEnv("FOOTFALL_COLLECTOR_SERVER_KEYS", strings.Join(keys, ","))
}

// sendAsServer sends events to collector 1 with site's server key, as a
// shop's server does (so they may set user_id and the time).
func (c *cluster) sendAsServer(site string, events []map[string]any) {
	body, _ := json.Marshal(map[string]any{"events": events})
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/v1/batch", ports["collector-1"]), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", desktop)
	req.SetBasicAuth(c.keys[site], "")
	res, err := httpClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("POST /v1/batch for %s: %d", site, res.StatusCode)
	}
}

// clickhouse opens the run's database on addr (one server, or the
// cluster's servers comma-separated).
func (c *cluster) clickhouse(addr string) driver.Conn {
	cfg := c.chConfig()
	cfg.Addr = addr
	conn, err := clickhouse.Open(context.Background(), cfg, c.chDatabase)
	if err != nil {
		c.t.Fatal(err)
	}
	return conn
}

// onEveryServer reads lines through each ClickHouse server of the cluster
// and returns them once every server reads the same, or a reason. Without
// an insert quorum a replica fetches a part some time after the other
// replica of its shard took it, and a query through a server reads that
// server's own replica of its shard: one reading may come from a replica
// that has not caught up.
func onEveryServer(c *cluster, read func(driver.Conn) []string) ([]string, string) {
	addrs := strings.Split(c.chAddrs, ",")
	var first []string
	for i, addr := range addrs {
		conn := c.clickhouse(addr)
		lines := read(conn)
		_ = conn.Close()
		if i == 0 {
			first = lines
		} else if !slices.Equal(lines, first) {
			return nil, fmt.Sprintf("%s reads\n%s\n%s reads\n%s", addrs[0], strings.Join(first, "\n"), addr, strings.Join(lines, "\n"))
		}
	}
	return first, ""
}

// rollups lists the site's hourly figures (testenv.Rollups).
func rollups(c *cluster, conn driver.Conn, site string) []string {
	return testenv.Rollups(c.t, conn, site)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
