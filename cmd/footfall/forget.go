package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/footfall/footfall/internal/clickhouse"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/postgres"
	"github.com/footfall/footfall/privacy"
)

// forgetCommand deletes a visitor everywhere and suppresses their later
// events, or lifts that suppression (docs/privacy.md).
var forgetCommand = command{"forget", "delete a visitor's data everywhere and drop their later events: --site SITE --user ID (--lift to take their events again)", setupForget}

func setupForget(fs *flag.FlagSet) func(context.Context, *slog.Logger) error {
	kc, pg, cc, opts := kafka.DefaultConfig(), postgres.DefaultConfig(), clickhouse.DefaultConfig(), privacy.DefaultOptions()
	kc.RegisterFlags(fs)
	pg.RegisterFlags(fs)
	cc.RegisterFlags(fs)
	opts.RegisterFlags(fs, "")
	site := fs.String("site", "", "the site id the visitor belongs to")
	user := fs.String("user", "", "the shop's user id of the visitor; every anonymous id linked to it is forgotten too")
	lift := fs.Bool("lift", false, "lift the suppression of --user and the anonymous ids forgotten with it: their later events are taken again (nothing deleted comes back)")
	noWait := fs.Bool("no-wait", false, "delete without waiting for the loader and the enricher to read past the suppressions: events of the visitor they hold in flight may land after the delete")
	return func(ctx context.Context, log *slog.Logger) error {
		switch {
		case *site == "":
			return config.Invalid("site", `""`, "a site id")
		case *user == "":
			return config.Invalid("user", `""`, "the visitor's user id")
		}
		for _, validate := range []func() error{kc.Validate, pg.Validate, cc.Validate, func() error { return opts.ValidateCLI(*noWait) }} {
			if err := validate(); err != nil {
				return err
			}
		}
		if *noWait {
			opts.ConsumerWait = 0
		}
		return runForget(ctx, log, kc, pg, cc, opts, *site, *user, *lift)
	}
}

func runForget(ctx context.Context, log *slog.Logger, kc kafka.Config, pg postgres.Config, cc clickhouse.Config, opts privacy.Options, site, user string, lift bool) (err error) {
	pool, err := postgres.Open(ctx, pg)
	if err != nil {
		return err
	}
	defer pool.Close()
	ch := clickhouse.NewClient(cc, cc.Database)
	defer func() {
		if cerr := ch.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close clickhouse: %w", cerr))
		}
	}()
	pub, err := kafka.NewProducer(kc, "footfall-forget", log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := pub.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close producer: %w", cerr))
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = pub.WaitReady(wctx)
	cancel()
	if err != nil {
		return err
	}
	sup := privacy.Follow(kc, log)
	defer func() { _ = sup.Close() }() // returns nothing but nil
	f := privacy.New(opts, privacy.Deps{Kafka: kc, Publisher: pub, Pool: pool, ClickHouse: ch, Suppressions: sup, Log: log})

	if lift {
		n, err := f.Lift(ctx, site, user)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(os.Stdout, "lifted the suppression of %d id(s) of site %s: their new events are taken again\n", n, site)
		return err
	}
	bar := newForgetBar()
	id, res, err := f.ForgetRecorded(ctx, "cli", site, user, bar.step)
	bar.finish()
	printCounts(res)
	if err != nil {
		return fmt.Errorf("forget (request %s; run it again to finish): %w", id, err)
	}
	if !res.Waited {
		fmt.Fprintln(os.Stderr, "did not wait for the loader and the enricher (--no-wait): run forget again in a minute to delete what they still held")
	}
	_, err = fmt.Fprintf(os.Stdout, "forgot the user and %d linked anonymous id(s) in %.1f s (request %s); their new events are dropped until `footfall forget --lift`\n",
		res.AnonymousIDs, res.Elapsed.Seconds(), id)
	return err
}

// forgetBar shows which step a forget is at.
type forgetBar struct{ bar *progressbar.ProgressBar }

func newForgetBar() *forgetBar {
	return &forgetBar{bar: progressbar.NewOptions(len(privacy.Steps),
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription("forget"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(20),
	)}
}

func (b *forgetBar) step(s privacy.Step, detail string) {
	desc := string(s)
	if detail != "" {
		desc += ": " + detail
	}
	b.bar.Describe(desc)
	_ = b.bar.Set(slices.Index(privacy.Steps, s) + 1) // drawing on a terminal: nothing to do if it fails
}

func (b *forgetBar) finish() {
	_ = b.bar.Finish()
	fmt.Fprintln(os.Stderr)
}

// printCounts prints what the forget did per store and table.
func printCounts(res privacy.Result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STORE\tTABLE\tCOUNT\t")
	totals := map[string]int64{}
	for _, c := range res.Counts {
		fmt.Fprintf(w, "%s\t%s\t%d %s\t\n", c.Store, c.Table, c.Rows, c.Unit)
		if c.Unit == privacy.UnitRows {
			totals[c.Store] += c.Rows
		}
	}
	for _, s := range []string{privacy.StorePostgres, privacy.StoreClickHouse} {
		fmt.Fprintf(w, "%s\t(total)\t%d %s\t\n", s, totals[s], privacy.UnitRows)
	}
	_ = w.Flush() // stdout gone: nothing to do
}
