// Package dashboard serves Footfall's reports: a Stats API compatible with
// Plausible's Stats API v1, Footfall's own additions in the same style, and
// the dashboard page that reads only that API. Figures come from the
// rollups in ClickHouse (events_hourly, sessions_hourly); a filtered query
// reads the events and sessions tables.
package dashboard

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/footfall/footfall/internal/config"
)

// Config is the dashboard's configuration.
type Config struct {
	// Keys maps API keys to the site each may read. They come from the
	// environment (FOOTFALL_DASHBOARD_KEYS), never from the repository.
	Keys Keys
	// Timeout bounds one Stats API query.
	Timeout time.Duration
}

// DefaultConfig has no keys: every request is refused until some are set.
func DefaultConfig() Config {
	return Config{Keys: Keys{}, Timeout: 10 * time.Second}
}

// RegisterFlags binds c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Var(&c.Keys, "dashboard-keys", "SITE_ID=API_KEY pairs, comma-separated: the key a request sends as Authorization: Bearer KEY to read that site")
	fs.DurationVar(&c.Timeout, "dashboard-timeout", c.Timeout, "longest one Stats API query may take")
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if c.Timeout <= 0 {
		return config.Invalid("dashboard-timeout", c.Timeout, "a positive duration")
	}
	return nil
}

// Keys maps API keys to site ids; printing it shows the sites only.
type Keys map[string]string

func (k Keys) String() string {
	parts := make([]string, 0, len(k))
	for _, site := range k {
		parts = append(parts, site+"=…")
	}
	return strings.Join(parts, ",")
}

// Set parses SITE_ID=API_KEY pairs. An entry with a side missing is an
// error naming it by site only: the key is a secret.
func (k *Keys) Set(v string) error {
	out := Keys{}
	for _, entry := range strings.Split(v, ",") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		site, key, ok := strings.Cut(entry, "=")
		if !ok || site == "" || key == "" {
			return fmt.Errorf("%q: want SITE_ID=API_KEY", site)
		}
		out[key] = site
	}
	*k = out
	return nil
}
