// Package collector is Footfall's HTTP intake: it validates batches from the
// beacon and server-side senders, stamps what only the server knows, and
// answers 2xx only once Kafka holds every accepted event.
package collector

import (
	"flag"
	"fmt"
	"strings"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
)

// Config is the collector's configuration.
type Config struct {
	// Sites maps write keys to site ids. Write keys come from the
	// environment (FOOTFALL_SITES), never from the repository.
	Sites Sites
	// IdentitySecrets maps site ids to the secrets with which their
	// servers sign user ids for identify (see event.UserHash); a site
	// without one has its identify events taken on trust.
	IdentitySecrets Secrets
	MaxBodyBytes    int64
	MaxEvents       int
	Limits          event.Limits
	TrustedProxies  config.StringList
	// DemoSite, when set, serves the demo shop for that site under /demo/.
	DemoSite      string
	PromotionsURL string
	// TopicPrefix is the Kafka topic prefix (--kafka-topic-prefix).
	TopicPrefix string
}

// DefaultConfig is what a laptop needs.
func DefaultConfig() Config {
	return Config{
		Sites:           Sites{},
		IdentitySecrets: Secrets{},
		MaxBodyBytes:    512 << 10,
		MaxEvents:       500,
		Limits:          event.DefaultLimits,
		PromotionsURL:   "http://127.0.0.1:8081",
		TopicPrefix:     "footfall",
	}
}

// RegisterFlags binds c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Var(&c.Sites, "collector-sites", "sites as SITE_ID=WRITE_KEY pairs, comma-separated")
	fs.Var(&c.IdentitySecrets, "collector-identity-secrets", "SITE_ID=SECRET pairs, comma-separated: identify events of these sites must carry props.user_hash, the hex HMAC-SHA256 of user_id under SECRET")
	fs.Int64Var(&c.MaxBodyBytes, "collector-max-body-bytes", c.MaxBodyBytes, "largest request body, compressed or not")
	fs.IntVar(&c.MaxEvents, "collector-max-batch-events", c.MaxEvents, "most events in one batch")
	fs.IntVar(&c.Limits.MaxEventBytes, "collector-max-event-bytes", c.Limits.MaxEventBytes, "largest single event")
	fs.Var(&c.TrustedProxies, "collector-trusted-proxies", "proxy CIDRs whose X-Forwarded-For is believed, comma-separated")
	fs.StringVar(&c.DemoSite, "collector-demo-site", c.DemoSite, "serve the demo shop under /demo/ for this site id (empty: off)")
	fs.StringVar(&c.PromotionsURL, "collector-demo-promotions-url", c.PromotionsURL, "promotions API URL the demo shop's browser calls")
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxBodyBytes < 1024:
		return config.Invalid("collector-max-body-bytes", c.MaxBodyBytes, "at least 1024")
	case c.MaxEvents < 1:
		return config.Invalid("collector-max-batch-events", c.MaxEvents, "at least 1")
	case c.Limits.MaxEventBytes < 256:
		return config.Invalid("collector-max-event-bytes", c.Limits.MaxEventBytes, "at least 256")
	case c.DemoSite != "" && c.Sites.KeyOf(c.DemoSite) == "":
		return config.Invalid("collector-demo-site", c.DemoSite, "a site id of --collector-sites")
	}
	for site := range c.IdentitySecrets {
		if c.Sites.KeyOf(site) == "" {
			return config.Invalid("collector-identity-secrets", site+"=…", "sites of --collector-sites only")
		}
	}
	return nil
}

// Sites maps write keys to site ids.
type Sites map[string]string

func (s Sites) String() string {
	var parts []string
	for _, site := range s {
		parts = append(parts, site+"=…")
	}
	return strings.Join(parts, ",")
}

// Set parses SITE_ID=WRITE_KEY pairs.
func (s *Sites) Set(v string) error {
	out := Sites{}
	if err := eachPair(v, "SITE_ID=WRITE_KEY", func(site, key string) { out[key] = site }); err != nil {
		return err
	}
	*s = out
	return nil
}

// KeyOf returns the write key of site, or "".
func (s Sites) KeyOf(site string) string {
	for k, v := range s {
		if v == site {
			return k
		}
	}
	return ""
}

// Secrets maps site ids to secrets; printing it shows the sites only.
type Secrets map[string]string

func (s Secrets) String() string {
	var parts []string
	for site := range s {
		parts = append(parts, site+"=…")
	}
	return strings.Join(parts, ",")
}

// Set parses SITE_ID=SECRET pairs.
func (s *Secrets) Set(v string) error {
	out := Secrets{}
	if err := eachPair(v, "SITE_ID=SECRET", func(site, secret string) { out[site] = secret }); err != nil {
		return err
	}
	*s = out
	return nil
}

// eachPair calls put with each NAME=VALUE entry of a comma-separated list,
// skipping empty entries; a VALUE may itself contain "=". An entry with a
// side missing is an error naming it by NAME only: VALUE is a secret.
func eachPair(v, form string, put func(name, value string)) error {
	for _, entry := range strings.Split(v, ",") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		name, value, ok := strings.Cut(entry, "=")
		if !ok || name == "" || value == "" {
			return fmt.Errorf("%q: want %s", name, form)
		}
		put(name, value)
	}
	return nil
}
