package cluster_test

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/testenv"
)

// rebuildSite is where the rebuild case's visits go (TestClusterForget).
const rebuildSite = "rebuild"

type rebuildCase struct {
	c      *cluster
	day    time.Time
	events int
	before []string // the site's figures as the live loaders wrote them
	spoilt []string

	out  []byte
	err  error
	took time.Duration
}

func (r *rebuildCase) seed() {
	r.day = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	var events []map[string]any
	for i, at := range []time.Duration{10 * time.Hour, 10*time.Hour + 20*time.Minute, 15 * time.Hour} {
		events = append(events, serverVisit(fmt.Sprint("anon-r", i, "-", randomHex(4)), fmt.Sprint("user-r", i), uuid.NewString(), r.day.Add(at))...)
	}
	r.events = len(events)
	r.c.sendAsServer(rebuildSite, events)
	conn := r.c.clickhouse(r.c.chAddrs)
	defer func() { _ = conn.Close() }()
	testenv.Eventually(r.c.t, 2*time.Minute, func() (bool, string) {
		var n uint64
		var visits, inVisits int64
		if err := conn.QueryRow(context.Background(), `SELECT count() FROM events WHERE site_id = ?`, rebuildSite).Scan(&n); err != nil {
			return false, err.Error()
		}
		if err := conn.QueryRow(context.Background(), `SELECT sumMerge(visits) FROM sessions_hourly WHERE site_id = ? AND dimension = ''`, rebuildSite).Scan(&visits); err != nil {
			return false, err.Error()
		}
		// A visit's row is final once it counts all its events (they come
		// on several topics, maybe in several batches).
		if err := conn.QueryRow(context.Background(), `SELECT sum(sign * events) FROM sessions WHERE site_id = ?`, rebuildSite).Scan(&inVisits); err != nil {
			return false, err.Error()
		}
		if n != uint64(r.events) || visits != 3 || inVisits != int64(r.events) {
			return false, fmt.Sprintf("rebuild case: %d of %d events, %d of 3 visits counting %d events", n, r.events, visits, inVisits)
		}
		// As in forgetCase.seed: the figures as loaded are those once the
		// loaders have committed everything, as every server reads them.
		if lag := r.c.lag(r.c.loaderGroup, false); lag != 0 {
			return false, fmt.Sprintf("rebuild case: the loaders are %d records behind", lag)
		}
		var differ string
		r.before, differ = onEveryServer(r.c, r.figuresOn)
		return differ == "", "rebuild case: the site's figures: " + differ
	})
	r.c.t.Logf("rebuild case: %d events of 3 visits on %s loaded (%d lines of figures)", r.events, r.day.Format(time.DateOnly), len(r.before))
}

// figures are what ClickHouse holds of the site: its events by type, its
// visits, and its rollups.
func (r *rebuildCase) figures() []string {
	conn := r.c.clickhouse(r.c.chAddrs)
	defer func() { _ = conn.Close() }()
	return r.figuresOn(conn)
}

// figuresOn is figures read through conn.
func (r *rebuildCase) figuresOn(conn driver.Conn) []string {
	ctx := context.Background()
	var out []string
	for _, q := range []string{
		`SELECT concat('events ', type, ': ', toString(count()), ' rows, ', toString(uniqExact(id)), ' ids') FROM events WHERE site_id = ? GROUP BY type ORDER BY type`,
		`SELECT concat('visit ', toString(start), ' ', visitor, ': ', toString(sum(sign)), ' live, ', toString(sum(sign * events)), ' events, ',
			toString(sum(sign * pageviews)), ' views, ', toString(sum(sign * duration)), ' s') FROM sessions WHERE site_id = ?
			GROUP BY start, visitor HAVING sum(sign) != 0 ORDER BY start, visitor`,
	} {
		rows, err := conn.Query(ctx, q, rebuildSite)
		if err != nil {
			r.c.t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				r.c.t.Fatal(err)
			}
			out = append(out, line)
		}
		if err := rows.Close(); err != nil {
			r.c.t.Fatal(err)
		}
	}
	return append(out, rollups(r.c, conn, rebuildSite)...)
}

// run spoils the day (deletes the site's visits and rollup rows on every
// shard) and rebuilds it as an operator would.
func (r *rebuildCase) run() {
	t := r.c.t
	ctx := context.Background()
	client := clickhouse.NewClient(r.c.chConfig(), r.c.chDatabase)
	defer func() { _ = client.Close() }()
	conn, err := client.Conn(ctx)
	if err != nil {
		t.Error(err)
		return
	}
	t.Logf("%s  rebuild: spoil %s of site %q", time.Now().Format("15:04:05.000"), r.day.Format(time.DateOnly), rebuildSite)
	tables := []string{"sessions", "events_hourly", "sessions_hourly"}
	for _, table := range tables {
		if err := client.Delete(ctx, conn, table, "site_id = ?", rebuildSite); err != nil {
			t.Error(err)
			return
		}
	}
	if err := client.WaitMutations(ctx, conn, tables, 2*time.Minute); err != nil {
		t.Error(err)
		return
	}
	r.spoilt = r.figures()

	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, r.c.bin, "replay", "--rebuild", "clickhouse",
		"--from", r.day.Format(time.DateOnly), "--to", r.day.AddDate(0, 0, 1).Format(time.DateOnly))
	cmd.Env = r.c.env
	t.Logf("%s  rebuild: %s", time.Now().Format("15:04:05.000"), strings.Join(cmd.Args[1:], " "))
	start := time.Now()
	r.out, r.err = cmd.CombinedOutput()
	r.took = time.Since(start)
	t.Logf("%s  rebuild: done in %v", time.Now().Format("15:04:05.000"), r.took.Round(10*time.Millisecond))
}

// check: the day was spoilt, and the rebuild put back exactly what the
// live loaders had written.
func (r *rebuildCase) check() {
	t := r.c.t
	if r.err != nil {
		t.Errorf("footfall replay --rebuild clickhouse after %v: %v\n%s", r.took, r.err, r.out)
		return
	}
	if slices.Equal(r.spoilt, r.before) {
		t.Error("rebuild case: spoiling the day changed nothing")
	}
	if got := r.figures(); !slices.Equal(got, r.before) {
		t.Errorf("after the rebuild the site's figures are\n%s\nwant, as loaded live,\n%s\nthe rebuild said:\n%s\nwhat each server holds:\n%s",
			strings.Join(got, "\n"), strings.Join(r.before, "\n"), r.out, r.servers())
		return
	}
	t.Logf("rebuild: %s of site %q back as loaded (%d lines; %d while spoilt) in %v:\n%s", r.day.Format(time.DateOnly), rebuildSite,
		len(r.before), len(r.spoilt), r.took.Round(10*time.Millisecond), lastLines(string(r.out), 3))
}

// servers lists the site's visit rows and events on each server, to tell
// a rebuild that went wrong from a replica that lags.
func (r *rebuildCase) servers() string {
	var b strings.Builder
	for _, addr := range strings.Split(r.c.chAddrs, ",") {
		conn := r.c.clickhouse(addr)
		for _, q := range []string{
			`SELECT concat('visit ', visitor, ' ', toString(start), ' sign ', toString(sign), ' events ', toString(events), ' part ', _part)
				FROM sessions_local WHERE site_id = ? ORDER BY visitor, _part`,
			`SELECT concat('events of ', anonymous_id, ': ', toString(count()), ' in ', arrayStringConcat(groupUniqArray(_part), ' '))
				FROM events_local WHERE site_id = ? GROUP BY anonymous_id ORDER BY anonymous_id`,
		} {
			rows, err := conn.Query(context.Background(), q, rebuildSite)
			if err != nil {
				fmt.Fprintf(&b, "%s: %v\n", addr, err)
				continue
			}
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err == nil {
					fmt.Fprintf(&b, "%s: %s\n", addr, line)
				}
			}
			_ = rows.Close()
		}
		_ = conn.Close()
	}
	return b.String()
}
