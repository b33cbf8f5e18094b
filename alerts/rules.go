package alerts

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/footfall/footfall/internal/event"
)

// rule is one enabled alert_rules row as the worker matches records
// against it.
type rule struct {
	ID          int64
	SiteID      string
	Name        string
	Service     string // "" matches every service
	MinSeverity uint8  // OpenTelemetry's 1-24
	BodyMatch   string // as written; matched without regard to case
	Threshold   int64
	Window      time.Duration

	bodyLower string
}

// matches reports whether r counts rec. The site is matched by the
// caller, which keeps rules by site.
func (r *rule) matches(rec *event.LogRecord, bodyLower func() string) bool {
	if rec.SeverityNumber < r.MinSeverity {
		return false
	}
	if r.Service != "" && rec.Service != r.Service {
		return false
	}
	return r.bodyLower == "" || strings.Contains(bodyLower(), r.bodyLower)
}

// ruleSet is the enabled rules of every site, by site.
type ruleSet struct {
	bySite map[string][]*rule
	n      int
}

// forRecord returns the rules rec counts for.
func (s *ruleSet) forRecord(rec *event.LogRecord) []*rule {
	var out []*rule
	var lower string
	lowered := false
	bodyLower := func() string {
		if !lowered {
			lower, lowered = strings.ToLower(rec.Body), true
		}
		return lower
	}
	for _, r := range s.bySite[rec.SiteID] {
		if r.matches(rec, bodyLower) {
			out = append(out, r)
		}
	}
	return out
}

// newRuleSet indexes rules by site.
func newRuleSet(rules []*rule) *ruleSet {
	s := &ruleSet{bySite: map[string][]*rule{}, n: len(rules)}
	for _, r := range rules {
		r.bodyLower = strings.ToLower(r.BodyMatch)
		s.bySite[r.SiteID] = append(s.bySite[r.SiteID], r)
	}
	return s
}

// rules holds the current ruleSet; a background loop replaces it every
// --alerts-rules-refresh, so an edit applies without a restart while a
// batch never waits for a reload.
type rules struct {
	pool *pgxpool.Pool
	cur  atomic.Pointer[ruleSet]
}

// get returns the current rules, loading them first if none were ever
// loaded (the database was down when the worker started).
func (rs *rules) get(ctx context.Context) (*ruleSet, error) {
	if s := rs.cur.Load(); s != nil {
		return s, nil
	}
	return rs.reload(ctx)
}

// reload reads the enabled rules.
func (rs *rules) reload(ctx context.Context) (*ruleSet, error) {
	rows, err := rs.pool.Query(ctx, `
		SELECT id, site_id, name, service, min_severity, body_match, threshold, window_seconds
		FROM alert_rules WHERE enabled ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read alert_rules: %w", err)
	}
	var list []*rule
	var r rule
	var sev int16
	var windowSeconds int32
	_, err = pgx.ForEachRow(rows, []any{&r.ID, &r.SiteID, &r.Name, &r.Service, &sev, &r.BodyMatch, &r.Threshold, &windowSeconds}, func() error {
		c := r
		c.MinSeverity = uint8(sev)
		c.Window = time.Duration(windowSeconds) * time.Second
		list = append(list, &c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read alert_rules: %w", err)
	}
	s := newRuleSet(list)
	rs.cur.Store(s)
	return s, nil
}

// ParseSeverity reads a minimum severity as a rule takes it: a number
// 1-24 or a name (TRACE, DEBUG, INFO, WARN or WARNING, ERROR, FATAL or
// CRITICAL, any case), the first number of the name's range. It is the Go
// twin of the SQL function severity_number (migration 0006).
func ParseSeverity(s string) (uint8, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	switch s {
	case "WARNING":
		s = "WARN"
	case "CRITICAL":
		s = "FATAL"
	}
	for n := uint8(1); n <= 24; n += 4 { // the first number of each range
		if event.SeverityName(n) == s {
			return n, nil
		}
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && fmt.Sprint(n) == s && n >= 1 && n <= 24 {
		return uint8(n), nil
	}
	return 0, fmt.Errorf("severity %q: want 1-24 or one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL", s)
}
