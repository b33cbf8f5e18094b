package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/postgres"
	"github.com/footfall/footfall/loader"
)

// replayCommand rebuilds state from Kafka history (docs/promotions.md,
// "Replay"), or ClickHouse's days (docs/operations.md, "Rebuilding
// ClickHouse").
var replayCommand = command{"replay", "rebuild state from Kafka history while the services run: --rebuild promotions, --rebuild clickhouse --from DAY --to DAY, or --rebuild moderation [--site S]", setupReplay}

func setupReplay(fs *flag.FlagSet) func(context.Context, *slog.Logger) error {
	kc, pg, ec, cc := kafka.DefaultConfig(), postgres.DefaultConfig(), enricher.DefaultConfig(), clickhouse.DefaultConfig()
	kc.RegisterFlags(fs)
	pg.RegisterFlags(fs)
	ec.RegisterFlags(fs)
	cc.RegisterFlags(fs)
	rebuild := fs.String("rebuild", "", "what to rebuild: promotions (user_promotions, from the enricher's topics, under the rules as they are now), clickhouse (raw events, visits and rollups of the UTC days --from to --to), or moderation (re-decide every past review under the moderation rules as they are now; docs/moderation.md)")
	mr := moderationReplayFlags(fs)
	fresh := fs.Bool("replay-fresh", false, "discard an interrupted replay's shadow tables and offsets and start from the oldest record, instead of resuming")
	from := fs.String("from", "", "with --rebuild clickhouse: the first UTC day rebuilt, YYYY-MM-DD")
	to := fs.String("to", "", "with --rebuild clickhouse: the UTC day after the last one rebuilt, YYYY-MM-DD")
	force := fs.Bool("force", false, "with --rebuild clickhouse: allow a range that reaches into yesterday or today, where the live loader still writes")
	return func(ctx context.Context, log *slog.Logger) error {
		switch *rebuild {
		case "promotions":
		case "clickhouse":
			return rebuildClickHouse(ctx, log, kc, cc, *from, *to, *force)
		case "moderation":
			return mr.run(ctx, log, pg)
		default:
			return config.Invalid("rebuild", fmt.Sprintf("%q", *rebuild), "promotions, clickhouse or moderation")
		}
		for _, validate := range []func() error{kc.Validate, pg.Validate, ec.Validate} {
			if err := validate(); err != nil {
				return err
			}
		}
		pool, err := postgres.Open(ctx, pg)
		if err != nil {
			return err
		}
		defer pool.Close()
		bar := newReplayBar(os.Stderr)
		res, err := enricher.Replay(ctx, ec, enricher.ReplayDeps{
			Kafka: kc, Pool: pool, Log: log, Fresh: *fresh,
			Progress: bar.update,
		})
		if err != nil {
			return err
		}
		bar.finish()
		_, err = fmt.Fprintf(os.Stdout, "replayed %d events in %.1f s: %.0f events/s; swapped in after %d attempt(s)\n",
			res.Events, res.Elapsed.Seconds(), rate(res.Events, res.Elapsed), res.Swaps)
		return err
	}
}

// rebuildClickHouse runs loader.Rebuild over the days [from, to).
func rebuildClickHouse(ctx context.Context, log *slog.Logger, kc kafka.Config, cc clickhouse.Config, from, to string, force bool) error {
	r := loader.RebuildRange{Force: force}
	for _, d := range []struct {
		flag, value string
		into        *time.Time
	}{{"from", from, &r.From}, {"to", to, &r.To}} {
		t, err := time.Parse(time.DateOnly, d.value)
		if err != nil {
			return config.Invalid(d.flag, fmt.Sprintf("%q", d.value), "a UTC day, YYYY-MM-DD")
		}
		*d.into = t
	}
	for _, validate := range []func() error{kc.Validate, cc.Validate, func() error { return r.Validate(time.Now()) }} {
		if err := validate(); err != nil {
			return err
		}
	}
	client := clickhouse.NewClient(cc, cc.Database)
	bar := newReplayBar(os.Stderr)
	res, err := loader.Rebuild(ctx, r, loader.RebuildDeps{
		Kafka: kc, Client: client, Log: log,
		Progress: func(p loader.RebuildProgress) {
			bar.update(enricher.ReplayProgress{Done: p.Done, Total: p.Total})
		},
	})
	if cerr := client.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close clickhouse: %w", cerr))
	}
	if err != nil {
		return err
	}
	bar.finish()
	_, err = fmt.Fprintf(os.Stdout, "rebuilt %d events in %.1f s: %.0f events/s (%d records read, %d events of the day either side rechecked, %d skipped)\n",
		res.Events, res.Elapsed.Seconds(), rate(res.Events, res.Elapsed), res.Read, res.Context, res.Skipped)
	return err
}

// replayBar draws a replay's progress: events, events/s and time left.
type replayBar struct {
	bar        *progressbar.ProgressBar
	catchingUp bool
}

func newReplayBar(w io.Writer) *replayBar {
	return &replayBar{bar: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("replay"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("events"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetWidth(30),
	)}
}

func (b *replayBar) update(p enricher.ReplayProgress) {
	if p.CatchingUp && !b.catchingUp {
		b.catchingUp = true
		b.bar.Describe("catch-up")
	}
	if p.Total > 0 {
		b.bar.ChangeMax64(p.Total)
	}
	_ = b.bar.Set64(p.Done) // drawing on a terminal: nothing to do if it fails
}

func (b *replayBar) finish() {
	_ = b.bar.Finish()
	fmt.Fprintln(os.Stderr)
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
