package config

import (
	"crypto/subtle"
	"fmt"
	"sort"
	"strings"
)

// ServerKeys maps secret server keys to site ids; a site may have several
// (one per sending system, or an old and a new one while rotating).
// A server key is the secret a shop's servers send as the HTTP Basic user
// name (empty password) to the collector, the reviews API and the forget
// API. Printing it shows the sites only.
type ServerKeys map[string]string

func (k ServerKeys) String() string {
	parts := make([]string, 0, len(k))
	for _, site := range k {
		parts = append(parts, site+"=…")
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Set parses SITE_ID=KEY pairs; a site may be named more than once, a key
// only once.
func (k *ServerKeys) Set(v string) error {
	out := ServerKeys{}
	err := EachPair(v, "SITE_ID=KEY", func(site, key string) error {
		if other, dup := out[key]; dup {
			return fmt.Errorf("%q and %q: one server key given to two sites, or twice", other, site)
		}
		out[key] = site
		return nil
	})
	if err != nil {
		return err
	}
	*k = out
	return nil
}

// SiteOf returns the site of key. Every key is compared in constant time,
// so how long the answer takes says nothing about how much of a guess was
// right.
func (k ServerKeys) SiteOf(key string) (string, bool) {
	site, found := "", false
	for candidate, s := range k {
		if subtle.ConstantTimeCompare([]byte(candidate), []byte(key)) == 1 {
			site, found = s, true
		}
	}
	return site, found
}
