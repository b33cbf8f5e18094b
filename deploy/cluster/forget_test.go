package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/testenv"
)

// A forget on the cluster, while the load runs: user A (two devices) and
// user B visit the site "forget"; B's visits are copied to the site
// "control". The shop's server sends them with server keys, so their
// identify events link each device to its user. `footfall forget --site
// forget --user user-a` runs in the middle of the load; afterwards no
// table on any of the four ClickHouse servers holds A's ids, and the
// site's rollups are the control site's (B alone).
const (
	forgetSite  = "forget"
	controlSite = "control"
)

// forgetAt is when, from the load's start, the forget runs: every fault
// is over by then, and the load goes on writing while it waits for its
// deletes.
const forgetAt = 66 * time.Second

type forgetCase struct {
	c             *cluster
	keys          map[string]string // server key by site
	aIDs          []string          // user-a and its anonymous ids
	controlBefore []string          // the control site's rollups before the forget

	out  []byte
	err  error
	took time.Duration
}

func newForgetCase(c *cluster) *forgetCase {
	return &forgetCase{c: c, keys: map[string]string{forgetSite: "sk_" + randomHex(8), controlSite: "sk_" + randomHex(8)}}
}

// sites are the two sites for --collector-sites (with write keys no one
// uses: the shop's server sends with its server key).
func (f *forgetCase) sites() string {
	return forgetSite + "=wk_" + randomHex(8) + "," + controlSite + "=wk_" + randomHex(8)
}

// serverKeys is the collectors' --collector-server-keys.
func (f *forgetCase) serverKeys() string {
	return forgetSite + "=" + f.keys[forgetSite] + "," + controlSite + "=" + f.keys[controlSite]
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
	visit := func(v visitor, at time.Time) []map[string]any {
		base := func(typ string, i int) map[string]any {
			return map[string]any{"id": uuid.NewString(), "type": typ, "ts": at.Add(time.Duration(i) * time.Second).UnixMilli(),
				"anonymous_id": v.anon, "user_id": v.user, "session_id": v.session, "page": page("/")}
		}
		search := base("search", 2)
		search["search"] = map[string]any{"keyword": "humidifier", "results": 4}
		view := base("pageview", 3)
		view["page"] = page("/p/humidifiers")
		return []map[string]any{base("identify", 0), base("pageview", 1), search, view}
	}
	sites := map[string][]map[string]any{}
	for _, s := range []struct {
		v  visitor
		at time.Time
	}{{a1, earlier}, {b1, earlier}, {a2, later}, {b2, later}} {
		sites[forgetSite] = append(sites[forgetSite], visit(s.v, s.at)...)
		if s.v.user == "user-b" {
			sites[controlSite] = append(sites[controlSite], visit(s.v, s.at)...)
		}
	}
	for site, events := range sites {
		body, _ := json.Marshal(map[string]any{"events": events})
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/v1/batch", ports["collector-1"]), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", desktop)
		req.SetBasicAuth(f.keys[site], "")
		res, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("POST /v1/batch for %s: %d", site, res.StatusCode)
		}
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
		var links int
		if err := f.c.postgres().QueryRow(ctx, `SELECT count(*) FROM identities WHERE site_id = $1`, forgetSite).Scan(&links); err != nil {
			return false, err.Error()
		}
		return events == uint64(len(sites[forgetSite])) && ctlEvents == uint64(len(sites[controlSite])) && visits == 4 && ctlVisits == 2 && links == 3,
			fmt.Sprintf("events %d of %d and %d of %d, visits %d of 4 and %d of 2, identity links %d of 3",
				events, len(sites[forgetSite]), ctlEvents, len(sites[controlSite]), visits, ctlVisits, links)
	})
	f.controlBefore = rollups(f.c, conn, controlSite)
	if len(f.controlBefore) == 0 {
		t.Fatal("the control site has no rollups")
	}
	t.Logf("forget case: %d events of users a and b on %q, b's %d on %q, loaded", len(sites[forgetSite]), forgetSite, len(sites[controlSite]), controlSite)
}

// run runs `footfall forget` as an operator would, against the cluster.
func (f *forgetCase) run() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
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
		held := noneOf(f.c, conn, f.aIDs)
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

// noneOf lists the tables and string columns of conn's server that hold
// one of ids, in the tables that store rows (replicated, not Distributed
// or views).
func noneOf(c *cluster, conn driver.Conn, ids []string) []string {
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT c.table, c.name, c.type FROM system.columns AS c
		WHERE c.database = currentDatabase() AND c.type IN ('String', 'LowCardinality(String)', 'Array(String)')
		AND c.table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE 'Replicated%')`)
	if err != nil {
		c.t.Fatal(err)
	}
	type col struct{ table, column, typ string }
	var cols []col
	for rows.Next() {
		var k col
		if err := rows.Scan(&k.table, &k.column, &k.typ); err != nil {
			c.t.Fatal(err)
		}
		cols = append(cols, k)
	}
	_ = rows.Close()
	if len(cols) < 20 {
		c.t.Fatalf("only %d string columns of replicated tables found", len(cols))
	}
	var held []string
	for _, k := range cols {
		cond := "has(?, toString(`" + k.column + "`))"
		if k.typ == "Array(String)" {
			cond = "hasAny(`" + k.column + "`, ?)"
		}
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM `"+k.table+"` WHERE "+cond, ids).Scan(&n); err != nil {
			c.t.Fatal(err)
		}
		if n > 0 {
			held = append(held, fmt.Sprintf("%s.%s: %d rows", k.table, k.column, n))
		}
	}
	return held
}

// rollups lists the site's hourly figures, one line per hour, dimension,
// value and level, without the site id: two sites that saw the same
// visits list the same lines. Visits whose row changed leave groups with
// no visits (the old row's values): only live groups compare.
func rollups(c *cluster, conn driver.Conn, site string) []string {
	queries := []string{
		`SELECT concat('events ', toString(hour), ' ', dimension, '=', value, ' lvl', toString(lvl), ': ',
			toString(countMerge(events)), ' events, ', toString(sumMerge(pageviews)), ' views, ',
			toString(sumMerge(zero_results)), ' zero, ', toString(uniqMerge(visitors)), ' visitors')
		FROM events_hourly WHERE site_id = ? GROUP BY hour, dimension, value, lvl ORDER BY hour, dimension, value, lvl`,
		`SELECT concat('visits ', toString(hour), ' ', dimension, '=', value, ' lvl', toString(lvl), ': ',
			toString(sumMerge(visits)), ' visits, ', toString(sumMerge(bounces)), ' bounces, ',
			toString(sumMerge(duration)), ' s, ', toString(sumMerge(pageviews)), ' views, ', toString(uniqIfMerge(visitors)), ' visitors')
		FROM sessions_hourly WHERE site_id = ? GROUP BY hour, dimension, value, lvl HAVING sumMerge(visits) != 0
		ORDER BY hour, dimension, value, lvl`,
	}
	var out []string
	for _, q := range queries {
		rows, err := conn.Query(context.Background(), q, site)
		if err != nil {
			c.t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				c.t.Fatal(err)
			}
			out = append(out, line)
		}
		if err := rows.Close(); err != nil {
			c.t.Fatal(err)
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
