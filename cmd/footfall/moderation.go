package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/footfall/footfall/internal/postgres"
	"github.com/footfall/footfall/moderator"
)

// moderationReplay is `footfall replay --rebuild moderation`: re-decide
// every past review under the moderation rules as they are now
// (docs/moderation.md, "Replay").
type moderationReplay struct {
	site string
	mc   moderator.Config
}

// moderationReplayFlags registers the flags only --rebuild moderation reads.
func moderationReplayFlags(fs *flag.FlagSet) *moderationReplay {
	m := &moderationReplay{mc: moderator.DefaultConfig()}
	fs.StringVar(&m.site, "site", "", "with --rebuild moderation: re-decide this site's reviews only (default every site)")
	fs.DurationVar(&m.mc.ClassifierTimeout, "moderator-classifier-timeout", m.mc.ClassifierTimeout, "longest wait for a site's classifier hook")
	return m
}

func (m *moderationReplay) run(ctx context.Context, log *slog.Logger, pg postgres.Config) error {
	if err := pg.Validate(); err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, pg)
	if err != nil {
		return err
	}
	defer pool.Close()
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription("moderation"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("reviews"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetWidth(30),
	)
	res, err := moderator.Replay(ctx, moderator.ReplayDeps{
		Pool: pool, Log: log, Site: m.site, ClassifierTimeout: m.mc.ClassifierTimeout,
		Progress: func(done, total int64) {
			bar.ChangeMax64(total)
			_ = bar.Set64(done) // drawing on a terminal: nothing to do if it fails
		},
	})
	if err != nil {
		return err
	}
	_ = bar.Finish()
	fmt.Fprintln(os.Stderr)
	_, err = fmt.Fprintf(os.Stdout, "re-decided %d reviews in %.1f s: %d decision(s) changed (see moderation_changes)\n",
		res.Reviews, res.Elapsed.Seconds(), res.Changed)
	return err
}
