package useragent

import (
	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultCacheSize is how many headers a Cache remembers. A shop's traffic
// repeats a few hundred browser builds; a few thousand entries (a few MB)
// hold them and the bots of the day.
const DefaultCacheSize = 4096

// Cache answers Parse for recently seen headers from memory: a hit costs
// about 0.1 µs against a few hundred µs for the bot patterns. It is a 2Q
// cache (golang-lru), so a flood of headers seen once, which is what a
// scraper rotating its User-Agent sends, passes through its short queue
// without evicting the browsers that come back. Safe for concurrent use.
type Cache struct {
	lru *lru.TwoQueueCache[string, Agent]
}

// NewCache returns a Cache of size entries, at least one.
func NewCache(size int) *Cache {
	c, err := lru.New2Q[string, Agent](max(size, 1))
	if err != nil { // only for a size below one
		panic(err)
	}
	return &Cache{lru: c}
}

// Parse returns Parse(ua), from memory when ua was seen lately.
func (c *Cache) Parse(ua string) Agent {
	if a, ok := c.lru.Get(ua); ok {
		return a
	}
	a := Parse(ua)
	if len(ua) <= MaxBytes { // longer ones cost nothing to parse
		c.lru.Add(ua, a)
	}
	return a
}
