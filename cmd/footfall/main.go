// Command footfall runs one part of the Footfall pipeline, or all of them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/logging"
)

// command is one subcommand: setup registers its flags and returns what to
// run once they are parsed.
type command struct {
	summary string
	setup   func(fs *flag.FlagSet) func(ctx context.Context, log *slog.Logger) error
}

var commands = map[string]command{
	"collector":  {"HTTP intake: POST /v1/batch to Kafka; serves /footfall.js and the demo shop", setupCollector},
	"enricher":   {"consumer group: searches and clicks to user promotions in PostgreSQL", setupEnricher},
	"loader":     {"consumer group: every event into ClickHouse", setupLoader},
	"promotions": {"HTTP API: GET /v1/promotions?site=&user=", setupPromotions},
	"all":        {"the four services above in one process (a laptop, the demo)", setupAll},
	"migrate":    {"apply PostgreSQL and ClickHouse migrations and create the Kafka topics", setupMigrate},
	"seed-demo":  {"load the demo shop's promotions catalog into PostgreSQL", setupSeedDemo},
}

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "footfall: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("footfall "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	logFormat := fs.String("log-format", "auto", "log format: json, text or auto (text on a terminal)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	runCmd := cmd.setup(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: footfall %s [flags]\n\n%s.\nEvery flag can also be set as FOOTFALL_<FLAG>, e.g. --kafka-brokers as FOOTFALL_KAFKA_BROKERS; the flag wins.\n\n", args[0], cmd.summary)
		fs.PrintDefaults()
	}
	if err := config.Parse(fs, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "footfall %s: %v\n", args[0], err)
		return 2
	}
	log, err := logging.New(os.Stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "footfall %s: %v\n", args[0], err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go forceExitOnSecondSignal(ctx, log)
	if err := runCmd(ctx, log); err != nil {
		log.Error("exit", "command", args[0], "err", err)
		return 1
	}
	return 0
}

// forceExitOnSecondSignal lets an impatient operator stop a drain.
func forceExitOnSecondSignal(ctx context.Context, log *slog.Logger) {
	<-ctx.Done()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	log.Warn("second signal: exiting without finishing the drain")
	os.Exit(1)
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Footfall: website activity tracking and analytics.\n\nUsage: footfall <command> [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, "\nRun 'footfall <command> -h' for its flags.\n")
}
