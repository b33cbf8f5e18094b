package dashboard

import (
	"sync"
	"time"
)

// levelCache remembers the sampling level each visitor figure was counted
// from (see visitors.go), so that a view asked for again skips the
// statement that estimates it: a tenth of the default page's ClickHouse
// time. A level only chooses how many visitors a figure merges, never
// which, so a stale one costs precision or time, not correctness; figures
// grow slowly, and an entry lives levelTTL.
type levelCache struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[levelKey]levelEntry
}

const (
	levelTTL = 10 * time.Minute
	// maxLevelEntries bounds the cache; past it, it starts again empty.
	maxLevelEntries = 50_000
)

// levelKey names one figure: its rollup (table and dimension), scope,
// interval and group key (a value, a bucket's label, or "" for a total).
type levelKey struct {
	site, table, dim string
	from, to         time.Time
	iv               interval
	key              string
}

type levelEntry struct {
	level int
	at    time.Time
}

func newLevelCache() *levelCache {
	return &levelCache{now: time.Now, entries: map[levelKey]levelEntry{}}
}

func (c visitorCount) levelKey(key string) levelKey {
	return levelKey{site: c.s.site, table: c.table(), dim: c.dim(), from: c.s.from, to: c.s.to, iv: c.iv, key: key}
}

// get returns the levels known for keys and whether every one was.
func (l *levelCache) get(c visitorCount, keys []string) (map[string]int, bool) {
	out := make(map[string]int, len(keys))
	if l == nil {
		return out, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		e, ok := l.entries[c.levelKey(k)]
		if !ok || now.Sub(e.at) > levelTTL {
			return out, false
		}
		out[k] = e.level
	}
	return out, true
}

// put remembers the level of each key (0 where levels has none).
func (l *levelCache) put(c visitorCount, keys []string, levels map[string]int) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries)+len(keys) > maxLevelEntries {
		clear(l.entries)
	}
	now := l.now()
	for _, k := range keys {
		l.entries[c.levelKey(k)] = levelEntry{level: levels[k], at: now}
	}
}
