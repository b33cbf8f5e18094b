package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gin-gonic/gin"
)

// realtimeWindow is how recent a current visitor's last event is, as in
// Plausible.
const realtimeWindow = 5 * time.Minute

// report answers one authorized request of the Stats API with the value
// to send as JSON, or an error.
type report func(ctx context.Context, q url.Values, site string) (any, error)

// endpoint wraps a report: the key and site check, ClickHouse within the
// configured timeout, the JSON answer or {"error": "..."}, and the
// request counted under name.
func (d *Dashboard) endpoint(name string, run report) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		status, body := d.answer(c.Request, run)
		c.JSON(status, body)
		d.tel.observe(name, status, time.Since(start))
	}
}

func (d *Dashboard) answer(r *http.Request, run report) (int, any) {
	site, err := d.authorize(r)
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), d.cfg.Timeout)
		defer cancel()
		var body any
		if body, err = run(ctx, r.URL.Query(), site); err == nil {
			return http.StatusOK, body
		}
	}
	var api *apiError
	if errors.As(err, &api) {
		return api.status, gin.H{"error": api.msg}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		d.deps.Log.Warn("stats query timed out", "query", r.URL.RawQuery, "err", err)
		return http.StatusServiceUnavailable, gin.H{"error": "The query took longer than the dashboard allows (--dashboard-timeout); try a shorter period."}
	}
	d.deps.Log.Error("stats query failed", "query", r.URL.RawQuery, "err", err)
	return http.StatusInternalServerError, gin.H{"error": "The figures could not be read; the dashboard's log says why."}
}

// conn is the ClickHouse connection, asked for once the parameters are
// known to be good: a bad request is told so even while ClickHouse is
// down.
func (d *Dashboard) conn(ctx context.Context) (driver.Conn, error) {
	conn, err := d.deps.ClickHouse.Conn(ctx)
	if err != nil {
		d.deps.Log.Warn("clickhouse unavailable", "err", err)
		return nil, &apiError{status: http.StatusServiceUnavailable, msg: "ClickHouse is unavailable; try again shortly."}
	}
	return conn, nil
}

// today is the current UTC date, which periods are relative to.
func (d *Dashboard) today() time.Time { return dayOf(d.now()) }

func (d *Dashboard) realtime(ctx context.Context, _ url.Values, site string) (any, error) {
	conn, err := d.conn(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := query(ctx, conn, realtimeVisitors(site, d.now().Add(-realtimeWindow)))
	if err != nil || len(rows) == 0 {
		return int64(0), err
	}
	return rows[0].visitors, nil
}

func (d *Dashboard) aggregate(ctx context.Context, q url.Values, site string) (any, error) {
	req, err := d.parseRequest(q, site)
	if err != nil {
		return nil, err
	}
	metrics, err := parseMetrics(q.Get("metrics"), q.Has("metrics"), defaultMetrics(nil), nil, req.filters)
	if err != nil {
		return nil, err
	}
	compare, err := parseCompare(q)
	if err != nil {
		return nil, err
	}
	conn, err := d.conn(ctx)
	if err != nil {
		return nil, err
	}
	var now, before tally
	jobs := []func() error{func() (err error) { now, err = totals(ctx, conn, req.scope, metrics); return err }}
	if compare {
		prev := req.period.previous(d.today())
		s := req.scope
		s.from, s.to = prev.from(), prev.to()
		jobs = append(jobs, func() (err error) { before, err = totals(ctx, conn, s, metrics); return err })
	}
	if err := parallel(jobs...); err != nil {
		return nil, err
	}
	results := map[string]gin.H{}
	for _, m := range metrics {
		v := gin.H{"value": now.value(m, false)}
		if compare {
			old := before.value(m, false)
			v["comparison_value"], v["change"] = old, change(m, old, v["value"])
		}
		results[string(m)] = v
	}
	return gin.H{"results": results}, nil
}

func (d *Dashboard) timeseries(ctx context.Context, q url.Values, site string) (any, error) {
	req, err := d.parseRequest(q, site)
	if err != nil {
		return nil, err
	}
	iv, err := parseInterval(q.Get("interval"), req.period)
	if err != nil {
		return nil, err
	}
	metrics, err := parseMetrics(q.Get("metrics"), q.Has("metrics"), defaultMetrics(nil), nil, req.filters)
	if err != nil {
		return nil, err
	}
	conn, err := d.conn(ctx)
	if err != nil {
		return nil, err
	}
	byLabel, err := series(ctx, conn, req.scope, iv, metrics)
	if err != nil {
		return nil, err
	}
	results := []gin.H{}
	for _, b := range iv.buckets(req.period) {
		label := iv.label(b)
		r := gin.H{"date": label}
		for _, m := range metrics {
			r[string(m)] = byLabel[label].value(m, false)
		}
		results = append(results, r)
	}
	return gin.H{"results": results}, nil
}

func (d *Dashboard) breakdown(ctx context.Context, q url.Values, site string) (any, error) {
	p, err := parsePeriod(q.Get("period"), q.Get("date"), d.today())
	if err != nil {
		return nil, err
	}
	prop, err := parseProperty(q)
	if err != nil {
		return nil, err
	}
	filters, err := parseFilters(q.Get("filters"))
	if err != nil {
		return nil, err
	}
	metrics, err := parseMetrics(q.Get("metrics"), q.Has("metrics"), defaultMetrics(&prop), &prop, filters)
	if err != nil {
		return nil, err
	}
	limit, page, err := parsePaging(q)
	if err != nil {
		return nil, err
	}
	conn, err := d.conn(ctx)
	if err != nil {
		return nil, err
	}
	s := scopeOf(site, p, filters)
	s.levels = d.levels
	rows, err := breakdown(ctx, conn, s, prop, metrics, limit, page)
	if err != nil {
		return nil, err
	}
	results := []gin.H{}
	for _, r := range rows {
		out := gin.H{prop.key: prop.shown(r.value)}
		for _, m := range metrics {
			out[string(m)] = r.tally.value(m, prop.visit)
		}
		results = append(results, out)
	}
	return gin.H{"results": results}, nil
}

func (d *Dashboard) funnel(ctx context.Context, q url.Values, site string) (any, error) {
	req, err := d.parseRequest(q, site)
	if err != nil {
		return nil, err
	}
	steps, err := parseSteps(q.Get("steps"))
	if err != nil {
		return nil, err
	}
	conn, err := d.conn(ctx)
	if err != nil {
		return nil, err
	}
	return runFunnel(ctx, conn, req.scope, steps)
}

func (d *Dashboard) retention(ctx context.Context, q url.Values, site string) (any, error) {
	req, err := d.parseRequest(q, site)
	if err != nil {
		return nil, err
	}
	conn, err := d.conn(ctx)
	if err != nil {
		return nil, err
	}
	cohorts, err := runRetention(ctx, conn, req.scope, req.period)
	if err != nil {
		return nil, err
	}
	return gin.H{"results": cohorts}, nil
}
