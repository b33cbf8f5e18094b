package config

import (
	"fmt"
	"sort"
	"strings"
)

// Secrets maps site ids to secrets, such as the identity secrets that
// both the collector and the promotions API check user hashes with.
// Printing it shows the sites only.
type Secrets map[string]string

func (s Secrets) String() string {
	parts := make([]string, 0, len(s))
	for site := range s {
		parts = append(parts, site+"=…")
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// Set parses SITE_ID=SECRET pairs.
func (s *Secrets) Set(v string) error {
	out := Secrets{}
	if err := EachPair(v, "SITE_ID=SECRET", func(site, secret string) error { out[site] = secret; return nil }); err != nil {
		return err
	}
	*s = out
	return nil
}

// EachPair calls put with each NAME=VALUE entry of a comma-separated list,
// skipping empty entries; a VALUE may itself contain "=". An entry with a
// side missing is an error naming it by NAME only, as VALUE may be a
// secret; so is an error put returns, which should do the same.
func EachPair(v, form string, put func(name, value string) error) error {
	for _, entry := range strings.Split(v, ",") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		name, value, ok := strings.Cut(entry, "=")
		if !ok || name == "" || value == "" {
			return fmt.Errorf("%q: want %s", name, form)
		}
		if err := put(name, value); err != nil {
			return err
		}
	}
	return nil
}
