package collector

import (
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
)

// RateLimits bound the events one client address, and optionally one site,
// may send: token buckets (golang.org/x/time/rate) counted in events. A
// request takes one token from its address's bucket before its body is
// read, so a flood is refused at the cost of a map lookup; once decoded,
// the rest of its events are taken from the address's bucket and all of
// them from its site's. Either refusal is a 429 with Retry-After, which
// the beacon honours: backpressure, not loss.
type RateLimits struct {
	// IP is events per second per client address; 0 turns the limit off.
	// The address is the one behind the trusted proxies
	// (--collector-trusted-proxies); IPv6 clients count per /64, what one
	// subscriber gets. Loopback clients, such as a reverse proxy on the
	// same host that is not trusted, or a load test, are never limited.
	IP float64
	// IPBurst is how many events an address may send at once.
	IPBurst int
	// Sites are opt-in quotas: events per second per site id.
	Sites Quotas
}

// DefaultRateLimits are for a busy shop: a browser sends a batch of up to
// 10 events about once a second while it is busy, and far less on
// average, so 100 events/s is dozens of active visitors behind one
// address (an office, a mobile carrier's NAT), and a burst of 1 000 is two
// full batches.
func DefaultRateLimits() RateLimits {
	return RateLimits{IP: 100, IPBurst: 1000, Sites: Quotas{}}
}

// RegisterFlags binds r to fs.
func (r *RateLimits) RegisterFlags(fs *flag.FlagSet) {
	fs.Float64Var(&r.IP, "collector-rate-ip", r.IP, "events per second one client address may send, sustained (IPv6: per /64; loopback is never limited); 0: no limit")
	fs.IntVar(&r.IPBurst, "collector-rate-ip-burst", r.IPBurst, "events one client address may send at once; at least --collector-max-batch-events")
	fs.Var(&r.Sites, "collector-site-quotas", "SITE_ID=EVENTS_PER_S pairs, comma-separated: each site's events per second, with a burst of 10 seconds' worth (at least one full batch); sites not listed have no quota")
}

// Validate reports the first setting that cannot work; sites and
// maxEvents are the collector's.
func (r RateLimits) Validate(sites Sites, maxEvents int) error {
	switch {
	case r.IP < 0 || math.IsNaN(r.IP) || math.IsInf(r.IP, 0):
		return config.Invalid("collector-rate-ip", r.IP, "0 (off) or more")
	case r.IP > 0 && r.IPBurst < maxEvents:
		return config.Invalid("collector-rate-ip-burst", r.IPBurst, fmt.Sprintf("at least --collector-max-batch-events (%d), or no batch could ever pass", maxEvents))
	}
	for _, site := range r.Sites.sorted() {
		switch q := r.Sites[site]; {
		case sites.KeyOf(site) == "":
			return config.Invalid("collector-site-quotas", site+"="+formatRate(q), "sites of --collector-sites only")
		case !(q > 0) || math.IsInf(q, 0):
			return config.Invalid("collector-site-quotas", site+"="+formatRate(q), "a positive number of events per second")
		}
	}
	return nil
}

// Quotas maps site ids to events per second.
type Quotas map[string]float64

func (q Quotas) String() string {
	parts := make([]string, 0, len(q))
	for _, site := range q.sorted() {
		parts = append(parts, site+"="+formatRate(q[site]))
	}
	return strings.Join(parts, ",")
}

// Set parses SITE_ID=EVENTS_PER_S pairs.
func (q *Quotas) Set(v string) error {
	out := Quotas{}
	for _, entry := range strings.Split(v, ",") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		site, value, ok := strings.Cut(entry, "=")
		perSecond, err := strconv.ParseFloat(value, 64)
		if !ok || site == "" || err != nil {
			return fmt.Errorf("%q: want SITE_ID=EVENTS_PER_S", entry)
		}
		out[site] = perSecond
	}
	*q = out
	return nil
}

func (q Quotas) sorted() []string {
	sites := make([]string, 0, len(q))
	for site := range q {
		sites = append(sites, site)
	}
	sort.Strings(sites)
	return sites
}

func formatRate(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// siteBurstSeconds is how many seconds of its quota a site may send at once.
const siteBurstSeconds = 10

// maxAddresses bounds the buckets kept for client addresses, about 150
// bytes each. Past it, buckets that have refilled are dropped (a full
// bucket is a new one: nothing is lost); if none has, an arbitrary one is,
// which gives that address a fresh burst and no more.
const maxAddresses = 100_000

// sweepEvery spaces the searches for refilled buckets.
const sweepEvery = time.Minute

// rateLimiter holds the buckets. Its clock is a field so that tests can
// move it.
type rateLimiter struct {
	cfg   RateLimits
	now   func() time.Time
	sites map[string]*rate.Limiter // fixed from the start

	mu           sync.Mutex
	addresses    map[netip.Prefix]*rate.Limiter
	maxAddresses int
	swept        time.Time
}

func newRateLimiter(cfg RateLimits, maxEvents int, reg prometheus.Registerer) *rateLimiter {
	r := &rateLimiter{
		cfg: cfg, now: time.Now, sites: map[string]*rate.Limiter{},
		addresses: map[netip.Prefix]*rate.Limiter{}, maxAddresses: maxAddresses,
	}
	for site, perSecond := range cfg.Sites {
		burst := max(int(math.Ceil(perSecond*siteBurstSeconds)), maxEvents)
		r.sites[site] = rate.NewLimiter(rate.Limit(perSecond), burst)
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "footfall_collector_rate_limited_addresses",
		Help: "Client addresses with a rate-limit bucket in memory (at most 100000).",
	}, func() float64 {
		r.mu.Lock()
		defer r.mu.Unlock()
		return float64(len(r.addresses))
	}))
	return r
}

// limitIP is the middleware of /v1: a request takes one token from its
// address's bucket before anything else is done for it. A request with a
// server key is not limited by its address: a shop's servers send in bulk
// from few addresses (its site's quota, when it has one, still counts).
func (c *Collector) limitIP(ctx *gin.Context) {
	if ctx.Request.Method == http.MethodOptions {
		return // preflights carry no events
	}
	if key, _, ok := ctx.Request.BasicAuth(); ok {
		if _, server := c.cfg.ServerKeys.SiteOf(key); server {
			return
		}
	}
	if reason, wait := c.limiter.take(ctx.ClientIP(), 1, "", 0); reason != "" {
		c.tooMany(ctx, reason, wait)
		ctx.Abort()
	}
}

// overLimit takes the rest of a decoded batch's events from its address's
// bucket (not for a server key's) and all of them from its site's, or
// answers 429 and reports true.
func (c *Collector) overLimit(ctx *gin.Context, src source, events int) bool {
	fromAddress := events - 1
	if src.server {
		fromAddress = 0
	}
	reason, wait := c.limiter.take(ctx.ClientIP(), fromAddress, src.site, events)
	if reason != "" {
		c.tooMany(ctx, reason, wait)
	}
	return reason != ""
}

func (c *Collector) tooMany(ctx *gin.Context, reason event.Reason, wait time.Duration) {
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	ctx.Header("Retry-After", strconv.Itoa(secs))
	detail := fmt.Sprintf("over %s events/s from this address; retry in %d s", formatRate(c.cfg.Rate.IP), secs)
	if reason == event.ReasonRateLimitedSite {
		detail = fmt.Sprintf("over the site's quota; retry in %d s", secs)
	}
	c.fail(ctx, http.StatusTooManyRequests, reason, detail)
}

// take takes n tokens from ip's bucket and m from site's, or none: then it
// says which refused and how long until it would not.
func (r *rateLimiter) take(ip string, n int, site string, m int) (event.Reason, time.Duration) {
	now := r.now()
	var held []*rate.Reservation
	refuse := func(reason event.Reason, wait time.Duration) (event.Reason, time.Duration) {
		for _, res := range held {
			res.CancelAt(now)
		}
		return reason, wait
	}
	if lim := r.address(ip, now); lim != nil && n > 0 {
		res, wait := reserve(lim, now, n)
		if wait > 0 {
			return refuse(event.ReasonRateLimitedIP, wait)
		}
		held = append(held, res)
	}
	if lim := r.sites[site]; lim != nil && m > 0 {
		if _, wait := reserve(lim, now, m); wait > 0 {
			return refuse(event.ReasonRateLimitedSite, wait)
		}
	}
	return "", 0
}

// reserve takes n tokens from lim at now, or none and the wait until they
// would be there.
func reserve(lim *rate.Limiter, now time.Time, n int) (*rate.Reservation, time.Duration) {
	res := lim.ReserveN(now, n)
	if !res.OK() { // more than the burst: refused for as long as a full bucket takes
		return res, time.Duration(float64(lim.Burst()) / float64(lim.Limit()) * float64(time.Second))
	}
	if wait := res.DelayFrom(now); wait > 0 {
		res.CancelAt(now)
		return res, wait
	}
	return res, 0
}

// address returns the bucket of ip's client, nil for a client that is not
// limited: loopback, an unparsable address, or with the limit off.
func (r *rateLimiter) address(ip string, now time.Time) *rate.Limiter {
	if r.cfg.IP <= 0 {
		return nil
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return nil
	}
	addr = addr.Unmap()
	if addr.IsLoopback() {
		return nil
	}
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	key, _ := addr.Prefix(bits)

	r.mu.Lock()
	defer r.mu.Unlock()
	if lim, ok := r.addresses[key]; ok {
		return lim
	}
	// At the bound, a sweep at most each second: a flood from many
	// addresses must not make every request scan the map.
	if since := now.Sub(r.swept); since >= sweepEvery || len(r.addresses) >= r.maxAddresses && since >= time.Second {
		r.sweep(now)
	}
	if len(r.addresses) >= r.maxAddresses {
		for k := range r.addresses {
			delete(r.addresses, k)
			break
		}
	}
	lim := rate.NewLimiter(rate.Limit(r.cfg.IP), r.cfg.IPBurst)
	r.addresses[key] = lim
	return lim
}

// sweep drops the buckets that have refilled: they are as good as new.
func (r *rateLimiter) sweep(now time.Time) {
	r.swept = now
	for k, lim := range r.addresses {
		if lim.TokensAt(now) >= float64(lim.Burst()) {
			delete(r.addresses, k)
		}
	}
}
