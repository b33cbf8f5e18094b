package privacy

import (
	"flag"
	"time"

	"github.com/footfall/footfall/internal/config"
)

// Config is the privacy API's configuration.
type Config struct {
	// ServerKeys say which site a request is for: the key is the HTTP
	// Basic user name, the password empty (as the collector's).
	ServerKeys config.ServerKeys
	Options    Options
	// Queue is how many accepted forgets may wait for the one running.
	Queue int
}

// DefaultConfig has no keys: every request is refused until some are set.
func DefaultConfig() Config {
	return Config{ServerKeys: config.ServerKeys{}, Options: DefaultOptions(), Queue: 100}
}

// RegisterFlags binds c to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Var(&c.ServerKeys, "privacy-server-keys", "secret server keys of the forget API, SITE_ID=KEY,... (a key is sent as the HTTP Basic user name with an empty password; set them from the environment, never on a command line others can read)")
	c.Options.RegisterFlags(fs, "privacy-")
	fs.IntVar(&c.Queue, "privacy-queue", c.Queue, "forget requests accepted while one runs; more are answered 503")
}

// RegisterFlags binds o to fs, each flag's name starting with prefix.
func (o *Options) RegisterFlags(fs *flag.FlagSet, prefix string) {
	fs.StringVar(&o.LoaderGroup, prefix+"loader-group", o.LoaderGroup, "the loader's consumer group, which a forget waits for")
	fs.StringVar(&o.EnricherGroup, prefix+"enricher-group", o.EnricherGroup, "the enricher's consumer group, which a forget waits for")
	fs.DurationVar(&o.ConsumerWait, prefix+"consumer-wait", o.ConsumerWait, "how long a forget waits for the loader and the enricher to read past the suppressions before it fails")
	fs.DurationVar(&o.MutationWait, prefix+"mutation-wait", o.MutationWait, "how long a forget waits for ClickHouse to finish its deletes before it fails")
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if c.Queue < 1 {
		return config.Invalid("privacy-queue", c.Queue, "1 or more")
	}
	return c.Options.validate("privacy-")
}

func (o Options) validate(prefix string) error {
	switch {
	case o.LoaderGroup == "":
		return config.Invalid(prefix+"loader-group", `""`, "a consumer group id")
	case o.EnricherGroup == "":
		return config.Invalid(prefix+"enricher-group", `""`, "a consumer group id")
	case o.ConsumerWait <= 0:
		return config.Invalid(prefix+"consumer-wait", o.ConsumerWait, "a positive duration")
	case o.MutationWait <= 0:
		return config.Invalid(prefix+"mutation-wait", o.MutationWait, "a positive duration")
	}
	return nil
}

// ValidateCLI is Validate for `footfall forget`, whose flags have no
// prefix and whose --no-wait sets ConsumerWait to 0.
func (o Options) ValidateCLI(noWait bool) error {
	if noWait {
		o.ConsumerWait = time.Second
	}
	return o.validate("")
}
