package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/postgres"
)

// replayCommand rebuilds state from Kafka history (docs/promotions.md,
// "Replay"). Only the enricher's promotions can be rebuilt so far.
var replayCommand = command{"replay", "rebuild state from Kafka history while the services run: --rebuild promotions", setupReplay}

func setupReplay(fs *flag.FlagSet) func(context.Context, *slog.Logger) error {
	kc, pg, ec := kafka.DefaultConfig(), postgres.DefaultConfig(), enricher.DefaultConfig()
	kc.RegisterFlags(fs)
	pg.RegisterFlags(fs)
	ec.RegisterFlags(fs)
	rebuild := fs.String("rebuild", "", "what to rebuild: promotions (user_promotions, from the enricher's topics, under the rules as they are now)")
	fresh := fs.Bool("replay-fresh", false, "discard an interrupted replay's shadow tables and offsets and start from the oldest record, instead of resuming")
	return func(ctx context.Context, log *slog.Logger) error {
		if *rebuild != "promotions" {
			return config.Invalid("rebuild", fmt.Sprintf("%q", *rebuild), "promotions (rebuilding ClickHouse is not implemented yet)")
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
