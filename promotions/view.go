package promotions

import (
	"cmp"
	"errors"
	"math"
	"math/big"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/footfall/footfall/enricher"
)

// errNotFilled is a lookup's answer while the view has not loaded
// PostgreSQL yet.
var errNotFilled = errors.New("promotions view not filled yet")

// view is one instance's in-memory copy of what topQuery reads: the
// catalog, every unexpired user_promotions row, the identity links and
// the known users. It answers exactly as topQuery and knownUser do
// (view_integration_test.go compares them), without a round trip.
type view struct {
	mu     sync.RWMutex
	sites  map[string]*siteState
	filled atomic.Bool
}

// siteState is one site's part of the view.
type siteState struct {
	catalog []offer
	// rows holds user_promotions by user key, then promotion id.
	rows    map[string]map[string]row
	usersOf map[string][]string // anonymous id -> linked user ids
	anonsOf map[string][]string // user id -> linked anonymous ids
	known   map[string]bool
}

// offer is one catalog entry.
type offer struct {
	Promotion
	priority   int
	isDefault  bool
	starts     time.Time // zero: no start
	ends       time.Time // zero: no end
	hasStarts  bool
	hasEndTime bool
}

func (o *offer) live(now time.Time) bool {
	return (!o.hasStarts || !o.starts.After(now)) && (!o.hasEndTime || o.ends.After(now))
}

// row is one user_promotions row; updated is its version. score is its
// worth at last, halving every halfLife seconds after.
type row struct {
	score         float64
	reason        string
	last, expires time.Time
	halfLife      float64
	updated       time.Time
}

func newView() *view { return &view{sites: map[string]*siteState{}} }

func (v *view) site(id string) *siteState {
	s := v.sites[id]
	if s == nil {
		s = &siteState{rows: map[string]map[string]row{}, usersOf: map[string][]string{}, anonsOf: map[string][]string{}, known: map[string]bool{}}
		v.sites[id] = s
	}
	return s
}

// setRow keeps r unless the view holds a newer version of the row: an
// update read twice, or read after a resync that already had it, changes
// nothing.
func (s *siteState) setRow(user, promotion string, r row) {
	m := s.rows[user]
	if m == nil {
		m = map[string]row{}
		s.rows[user] = m
	}
	if old, ok := m[promotion]; ok && old.updated.After(r.updated) {
		return
	}
	m[promotion] = r
}

func (s *siteState) link(anon, user string) {
	if !slices.Contains(s.usersOf[anon], user) {
		s.usersOf[anon] = append(s.usersOf[anon], user)
		s.anonsOf[user] = append(s.anonsOf[user], anon)
	}
}

// apply takes one promotion update in.
func (v *view) apply(u *enricher.Update) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.site(u.Site)
	for _, c := range u.Scores {
		s.setRow(u.User, c.Promotion, row{score: c.Score, reason: c.Reason, last: c.LastEventAt, expires: c.ExpiresAt, halfLife: c.HalfLife, updated: c.UpdatedAt})
	}
	for _, l := range u.Links {
		s.link(l.AnonymousID, l.UserID)
	}
	for _, k := range u.KnownUsers {
		s.known[k] = true
	}
}

// setCatalog replaces every site's catalog.
func (v *view) setCatalog(bySite map[string][]offer) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for id, s := range v.sites {
		if _, ok := bySite[id]; !ok {
			s.catalog = nil
		}
	}
	for id, c := range bySite {
		v.site(id).catalog = c
	}
}

// sweep forgets rows that expired before now and returns how many.
func (v *view) sweep(now time.Time) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, s := range v.sites {
		for user, m := range s.rows {
			for id, r := range m {
				if !r.expires.After(now) {
					delete(m, id)
					n++
				}
			}
			if len(m) == 0 {
				delete(s.rows, user)
			}
		}
	}
	return n
}

// keys are the user keys whose rows count for user, as topQuery's keys:
// user, its linked user ids, its linked anonymous ids, and the other
// devices of the user ids it is linked to.
func (s *siteState) keys(user string, buf []string) []string {
	buf = append(buf[:0], user)
	add := func(k string) {
		if !slices.Contains(buf, k) {
			buf = append(buf, k)
		}
	}
	for _, u := range s.usersOf[user] {
		add(u)
		for _, a := range s.anonsOf[u] {
			add(a)
		}
	}
	for _, a := range s.anonsOf[user] {
		add(a)
	}
	return buf
}

// personal is a promotion's sum over the visitor's keys.
type personal struct {
	score  float64
	reason string
	last   time.Time
}

// ranked is one candidate of an answer.
type ranked struct {
	o  *offer
	pe *personal // nil: a default
}

// top answers as topQuery does.
func (v *view) top(site, user string, limit int, now time.Time) ([]Promotion, error) {
	if !v.filled.Load() {
		return nil, errNotFilled
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := []Promotion{}
	s := v.sites[site]
	if s == nil {
		return out, nil
	}
	var kbuf [8]string
	var pers map[string]*personal
	for _, k := range s.keys(user, kbuf[:0]) {
		for id, r := range s.rows[k] {
			if !r.expires.After(now) {
				continue
			}
			if pers == nil {
				pers = map[string]*personal{}
			}
			worth := enricher.Decayed(r.score, r.last, now, r.halfLife)
			p := pers[id]
			if p == nil {
				pers[id] = &personal{score: worth, reason: r.reason, last: r.last}
				continue
			}
			p.score += worth
			if r.last.After(p.last) {
				p.reason, p.last = r.reason, r.last
			}
		}
	}
	for _, p := range pers {
		p.score = cents(p.score)
	}
	var cbuf [16]ranked
	cands := cbuf[:0]
	for i := range s.catalog {
		o := &s.catalog[i]
		pe := pers[o.ID]
		if (pe != nil || o.isDefault) && o.live(now) {
			cands = append(cands, ranked{o, pe})
		}
	}
	slices.SortFunc(cands, compareRanked)
	for i := 0; i < len(cands) && i < limit; i++ {
		p := cands[i].o.Promotion
		p.Reason = "default"
		if pe := cands[i].pe; pe != nil {
			p.Score, p.Reason = pe.score, pe.reason
		}
		out = append(out, p)
	}
	return out, nil
}

// cents rounds a decayed score as topQuery's round(…, 2) does: the
// answer is the same to the byte whether the view or PostgreSQL computed
// it, and equal interests rank by their latest event, not by the last
// bits of two implementations of pow.
//
// PostgreSQL converts the float to numeric at 15 significant digits, then
// rounds half away from zero: near a half cent that decimal is rounded
// here too; elsewhere x*100 rounds the same way.
func cents(x float64) float64 {
	y := x * 100
	if f := math.Abs(y - math.Trunc(y)); math.Abs(f-0.5) > 1e-6 {
		return math.Round(y) / 100
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(x, 'g', 15, 64))
	if !ok {
		return math.Round(y) / 100
	}
	r.Mul(r, big.NewRat(100, 1))
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int)) // truncated toward zero
	if m.Abs(m).Lsh(m, 1).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(int64(r.Sign())))
	}
	return float64(q.Int64()) / 100
}

// compareRanked is topQuery's ORDER BY: personal by score, then the
// latest interest, then defaults; ties by priority, then id.
func compareRanked(a, b ranked) int {
	switch {
	case a.pe != nil && b.pe == nil:
		return -1
	case a.pe == nil && b.pe != nil:
		return 1
	case a.pe != nil:
		if c := cmp.Compare(b.pe.score, a.pe.score); c != 0 {
			return c
		}
		if c := b.pe.last.Compare(a.pe.last); c != 0 {
			return c
		}
	}
	return cmp.Or(cmp.Compare(b.o.priority, a.o.priority), cmp.Compare(a.o.ID, b.o.ID))
}

// knownUser answers as the known_users lookup does.
func (v *view) knownUser(site, user string) (bool, error) {
	if !v.filled.Load() {
		return false, errNotFilled
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	s := v.sites[site]
	return s != nil && s.known[user], nil
}

// audience returns the requested ids whose answer may include user's
// rows: user, and whatever is within two links of it (the inverse of
// keys), for the streams to recompute.
func (v *view) audience(site, user string) []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	s := v.sites[site]
	if s == nil {
		return []string{user}
	}
	return s.keys(user, nil)
}

// replace takes w's contents as the view's, and marks the view filled.
func (v *view) replace(w *view) {
	v.mu.Lock()
	v.sites = w.sites
	v.mu.Unlock()
	v.filled.Store(true)
}
