// Package generate makes realistic web analytics traffic for one site:
// visitors who come back over days, visits of one to twelve pages with a
// bounce share near Plausible's typical 40–50 %, a day-and-week traffic
// shape, a long tail of pages, search and social referrers, campaigns,
// real User-Agent strings and a share of bots. `footfall generate` writes
// it into ClickHouse through the loader's sink, so the benchmark data goes
// through the same dedup, visits and rollups as production traffic.
//
// The same Config gives the same events, byte for byte: ids come from the
// seeded generator too, so a run that stopped half-way can be repeated and
// the loader skips what is already there.
package generate

import (
	"flag"
	"math"
	"time"

	"github.com/footfall/footfall/internal/config"
)

// Config says how much traffic to make, for whom and over what time.
type Config struct {
	Events int    // events in all, bots included
	Days   int    // the span, ending at End
	Site   string // site_id of every event
	Seed   uint64
	Batch  int // events per write
	// End is when the traffic stops (exclusive); DefaultConfig takes the
	// start of the current hour, so runs within one hour are identical.
	End time.Time
	// BotShare is the share of events sent by bots, which every report
	// leaves out.
	BotShare float64
}

// DefaultConfig is the benchmark's data set: ten million events over 30
// days.
func DefaultConfig() Config {
	return Config{
		Events:   10_000_000,
		Days:     30,
		Site:     "bench",
		Seed:     1,
		Batch:    50_000,
		End:      time.Now().UTC().Truncate(time.Hour),
		BotShare: 0.05,
	}
}

// RegisterFlags binds c to fs under the generate- prefix.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Events, "generate-events", c.Events, "events to write, bots included")
	fs.IntVar(&c.Days, "generate-days", c.Days, "days the events span, ending at --generate-end")
	fs.StringVar(&c.Site, "generate-site", c.Site, "site_id of the events")
	fs.Uint64Var(&c.Seed, "generate-seed", c.Seed, "seed: the same seed, end and counts give the same events, ids included")
	fs.IntVar(&c.Batch, "generate-batch", c.Batch, "events per write to ClickHouse (the loader's sink)")
	fs.Func("generate-end", "end of the span, RFC 3339 or YYYY-MM-DD in UTC (default: the start of the current hour)", func(s string) error {
		t, err := parseEnd(s)
		if err == nil {
			c.End = t
		}
		return err
	})
	fs.Float64Var(&c.BotShare, "generate-bot-share", c.BotShare, "share of events sent by bots (0 to 0.5)")
}

func parseEnd(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	return time.Parse(time.RFC3339, s)
}

// maxBatch keeps one write's id look-ups and visit recompute within what
// ClickHouse answers in seconds.
const maxBatch = 1_000_000

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Events < 1:
		return config.Invalid("generate-events", c.Events, "at least 1")
	case c.Days < 1 || c.Days > 3650:
		return config.Invalid("generate-days", c.Days, "1 to 3650")
	case c.Site == "":
		return config.Invalid("generate-site", `""`, "a site id")
	case c.Batch < 1 || c.Batch > maxBatch:
		return config.Invalid("generate-batch", c.Batch, "1 to 1000000")
	case c.End.Add(-time.Duration(c.Days)*24*time.Hour).Unix() < 0 || c.End.Unix() > math.MaxUint32:
		return config.Invalid("generate-end", c.End.Format(time.RFC3339), "a time whose span lies within 1970 to 2106 (ClickHouse's DateTime)")
	case c.BotShare < 0 || c.BotShare > 0.5 || math.IsNaN(c.BotShare):
		return config.Invalid("generate-bot-share", c.BotShare, "0 to 0.5")
	}
	return nil
}

// start is the beginning of the span.
func (c Config) start() time.Time { return c.End.Add(-time.Duration(c.Days) * 24 * time.Hour) }
