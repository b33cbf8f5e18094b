// Package collector is Footfall's HTTP intake: it validates batches from the
// beacon and server-side senders, stamps what only the server knows, and
// answers 2xx only once Kafka holds every accepted event, or, while Kafka
// is away, the collector's disk spool does.
package collector

import (
	"flag"
	"strings"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/event"
)

// Config is the collector's configuration.
type Config struct {
	// Sites maps write keys to site ids. Write keys come from the
	// environment (FOOTFALL_SITES), never from the repository.
	Sites Sites
	// ServerKeys maps secret server keys to site ids. A batch sent with
	// one (as the HTTP Basic user name) may set user ids, client IPs and
	// times; one sent with a write key may not.
	ServerKeys config.ServerKeys
	// IdentitySecrets maps site ids to the secrets with which their
	// servers sign user ids for identify (see event.UserHash). Only a
	// signed identify, or a server key, links a device to a user id; a
	// site without a secret gets links from its server keys alone.
	IdentitySecrets config.Secrets
	// AllowedOrigins lists, per site, the origins whose pages may send
	// with its write key; a site without a list accepts any origin.
	AllowedOrigins Origins
	MaxBodyBytes   int64
	MaxEvents      int
	Limits         event.Limits
	TrustedProxies config.StringList
	// DemoSite, when set, serves the demo shop for that site under /demo/.
	DemoSite      string
	PromotionsURL string
	// TopicPrefix is the Kafka topic prefix (--kafka-topic-prefix).
	TopicPrefix string
	// Spool keeps what Kafka does not acknowledge in time (spooling.go).
	Spool Spooling
	// Rate limits what one address or site may send (ratelimit.go).
	Rate RateLimits
}

// DefaultConfig is what a laptop needs.
func DefaultConfig() Config {
	return Config{
		Sites:           Sites{},
		ServerKeys:      config.ServerKeys{},
		IdentitySecrets: config.Secrets{},
		AllowedOrigins:  Origins{},
		MaxBodyBytes:    512 << 10,
		MaxEvents:       500,
		Limits:          event.DefaultLimits,
		PromotionsURL:   "http://127.0.0.1:8081",
		TopicPrefix:     "footfall",
		Spool:           DefaultSpooling(),
		Rate:            DefaultRateLimits(),
	}
}

// RegisterFlags binds c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Var(&c.Sites, "collector-sites", "sites as SITE_ID=WRITE_KEY pairs, comma-separated")
	fs.Var(&c.ServerKeys, "collector-server-keys", "secret server keys as SITE_ID=KEY pairs, comma-separated, several per site allowed; sent as the HTTP Basic user name (empty password), they let a batch set user_id, ip and the time")
	fs.Var(&c.IdentitySecrets, "collector-identity-secrets", "SITE_ID=SECRET pairs, comma-separated: a browser's identify events of these sites must carry props.user_hash, the hex HMAC-SHA256 of user_id under SECRET, and only such identify events link a device to a user id (sites without a secret: only server keys do)")
	fs.Var(&c.AllowedOrigins, "collector-allowed-origins", "SITE_ID=ORIGIN|ORIGIN... pairs, comma-separated, e.g. shop=https://shop.example|https://www.shop.example: browsers on other origins are refused with the site's write key (sites not listed: any origin; server keys: exempt)")
	fs.Int64Var(&c.MaxBodyBytes, "collector-max-body-bytes", c.MaxBodyBytes, "largest request body, compressed or not")
	fs.IntVar(&c.MaxEvents, "collector-max-batch-events", c.MaxEvents, "most events in one batch")
	fs.IntVar(&c.Limits.MaxEventBytes, "collector-max-event-bytes", c.Limits.MaxEventBytes, "largest single event")
	fs.Var(&c.TrustedProxies, "collector-trusted-proxies", "proxy CIDRs whose X-Forwarded-For is believed, comma-separated")
	fs.StringVar(&c.DemoSite, "collector-demo-site", c.DemoSite, "serve the demo shop under /demo/ for this site id (empty: off)")
	fs.StringVar(&c.PromotionsURL, "collector-demo-promotions-url", c.PromotionsURL, "promotions API URL the demo shop's browser calls")
	c.Spool.RegisterFlags(fs)
	c.Rate.RegisterFlags(fs)
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
	for key, site := range c.ServerKeys {
		switch {
		case c.Sites.KeyOf(site) == "":
			return config.Invalid("collector-server-keys", site+"=…", "sites of --collector-sites only")
		case c.Sites[key] != "":
			return config.Invalid("collector-server-keys", site+"=…", "a key that is no site's write key (write keys are public)")
		}
	}
	for site := range c.AllowedOrigins {
		if c.Sites.KeyOf(site) == "" {
			return config.Invalid("collector-allowed-origins", site+"=…", "sites of --collector-sites only")
		}
	}
	if err := c.Rate.Validate(c.Sites, c.MaxEvents); err != nil {
		return err
	}
	return c.Spool.Validate()
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
	if err := config.EachPair(v, "SITE_ID=WRITE_KEY", func(site, key string) error { out[key] = site; return nil }); err != nil {
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
