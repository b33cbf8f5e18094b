package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// promotionsStage: GET /v1/promotions for the visitors the enricher
// stage scored (any visitor, answered with the site's defaults, if it did
// not run), as fast as answered and at a fixed rate, against a bare gin
// handler answering a real answer's bytes.
func (b *bench) promotionsStage(ctx context.Context) ([]row, error) {
	users, err := b.scoredVisitors(ctx, 10_000)
	if err != nil {
		return nil, err
	}
	var next atomic.Uint64
	lookups := func(base string) func() string {
		return func() string {
			u := users[next.Add(1)%uint64(len(users))]
			return base + "/v1/promotions?site=" + benchSite + "&user=" + url.QueryEscape(u)
		}
	}

	addr := b.nextAddr()
	p, err := b.service(ctx, "promotions", b.at.events, addr, "--promotions-addr", addr)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	base := "http://" + addr
	answer, err := fetch(ctx, lookups(base)())
	if err != nil {
		return nil, err
	}
	l := load{conns: b.o.conns, duration: b.o.duration, header: b.headers(), get: lookups(base)}
	res, u0, u1, err := b.measure(ctx, l, p, "promotions")
	if err != nil {
		return nil, fmt.Errorf("promotions: %w", err)
	}
	fixed := l
	fixed.conns, fixed.rate = 64, b.o.lookupRate
	steady, _, _, err := b.measure(ctx, fixed, p, "promotions-fixed-rate")
	if err != nil {
		return nil, fmt.Errorf("promotions at %s/s: %w", human(b.o.lookupRate), err)
	}
	if err := p.stop(); err != nil {
		return nil, err
	}

	bareAddr := b.nextAddr()
	bare, err := start(ctx, b.o.logDir, "bare-gin-lookup", bareAddr, nil, b.self, "bare-gin", "--addr", bareAddr, "--answer", answer)
	if err != nil {
		return nil, err
	}
	l.get = lookups("http://" + bareAddr)
	ceil, c0, c1, err := b.measure(ctx, l, bare, "bare-gin-lookup")
	var bareSteady result
	if err == nil {
		fixed.get = l.get
		bareSteady, _, _, err = b.measure(ctx, fixed, bare, "bare-gin-lookup-fixed-rate")
	}
	if serr := bare.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return nil, fmt.Errorf("bare gin: %w", err)
	}
	return []row{
		{stage: fmt.Sprintf("promotions lookup, %d conns", l.conns), figure: res.perSecond(), unit: "req/s",
			ceiling: ceil.perSecond(), against: "bare gin, same answer", p50: res.percentile(50), p99: res.percentile(99),
			latency: "request round trips", cores: cores(u0, u1), rss: u1.rss,
			note: fmt.Sprintf("%d visitors; %d failed; bare gin p50/p99 %s/%s on %.2f cores; an answer is %d bytes",
				len(users), res.failed, ms(ceil.percentile(50)), ms(ceil.percentile(99)), cores(c0, c1), len(answer))},
		{stage: fmt.Sprintf("promotions lookup at %s/s", human(b.o.lookupRate)), figure: steady.perSecond(), unit: "req/s",
			p50: steady.percentile(50), p99: steady.percentile(99), latency: "request round trips, 64 conns",
			note: fmt.Sprintf("%d failed; bare gin at the same rate: p50/p99 %s/%s", steady.failed, ms(bareSteady.percentile(50)), ms(bareSteady.percentile(99)))},
	}, nil
}

// scoredVisitors are up to n user keys with promotions in the run's
// database, or made-up ones when there are none.
func (b *bench) scoredVisitors(ctx context.Context, n int) ([]string, error) {
	pg, err := pgx.Connect(ctx, b.pgURL)
	if err != nil {
		return nil, err
	}
	defer pg.Close(context.Background())
	rows, err := pg.Query(ctx, "SELECT DISTINCT user_key FROM user_promotions WHERE site_id = $1 LIMIT $2", benchSite, n)
	if err != nil {
		return nil, err
	}
	users, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	for i := 0; len(users) == 0 && i < n; i++ {
		users = append(users, fmt.Sprintf("nobody-%d", i))
	}
	return users, nil
}

func fetch(ctx context.Context, url string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s %s", url, res.Status, b)
	}
	return string(b), err
}
