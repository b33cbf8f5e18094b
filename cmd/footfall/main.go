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
	"syscall"

	"github.com/footfall/footfall/alerts"
	"github.com/footfall/footfall/collector"
	"github.com/footfall/footfall/dashboard"
	"github.com/footfall/footfall/enricher"
	"github.com/footfall/footfall/internal/app"
	"github.com/footfall/footfall/internal/config"
	"github.com/footfall/footfall/internal/logging"
	"github.com/footfall/footfall/loader"
	"github.com/footfall/footfall/moderator"
	"github.com/footfall/footfall/privacy"
	"github.com/footfall/footfall/promotions"
	"github.com/footfall/footfall/reviews"
)

// modules is every service, in the order `footfall all` builds them. A new
// service is one package with a Module and one line here.
var modules = []app.Module{
	collector.Module(),
	promotions.Module(),
	enricher.Module(),
	loader.Module(),
	alerts.Module(),
	dashboard.Module(),
	reviews.Module(),
	moderator.Module(),
	privacy.Module(),
}

// command is one subcommand: setup registers its flags and returns what to
// run once they are parsed.
type command struct {
	name    string
	summary string
	setup   func(fs *flag.FlagSet) func(ctx context.Context, log *slog.Logger) error
}

// commands is every service on its own, all of them, and the tasks.
func commands() []command {
	var out []command
	for _, m := range modules {
		out = append(out, command{m.Name, m.Summary, serve(m)})
	}
	return append(out,
		command{"all", "every service above in one process (a laptop, the demo)", serve(modules...)},
		command{"migrate", "apply PostgreSQL and ClickHouse migrations and create the Kafka topics", setupMigrate},
		command{"seed-demo", "load the demo shop's promotions catalog into PostgreSQL", setupSeedDemo},
		command{"generate", "write realistic events for one site straight into ClickHouse (benchmark data)", setupGenerate},
		replayCommand,
		forgetCommand,
		command{"ports", "print each service's name and default port, one per line (for scripts)", setupPorts},
	)
}

// serve runs modules in one process.
func serve(mods ...app.Module) func(fs *flag.FlagSet) func(context.Context, *slog.Logger) error {
	return func(fs *flag.FlagSet) func(context.Context, *slog.Logger) error {
		p := app.New(mods...)
		p.RegisterFlags(fs)
		return p.Run
	}
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
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			cmd = &c
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "footfall: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("footfall "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	logFormat := fs.String("log-format", "auto", "log format: json, text or auto (text on a terminal)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	runCmd := cmd.setup(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: footfall %s [flags]\n\n%s.\nEvery flag can also be set as FOOTFALL_<FLAG>, e.g. --kafka-brokers as FOOTFALL_KAFKA_BROKERS; the flag wins.\n\n", cmd.name, cmd.summary)
		fs.PrintDefaults()
	}
	if err := config.Parse(fs, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "footfall %s: %v\n", cmd.name, err)
		return 2
	}
	log, err := logging.New(os.Stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "footfall %s: %v\n", cmd.name, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go forceExitOnSecondSignal(ctx, log)
	if err := runCmd(ctx, log); err != nil {
		log.Error("exit", "command", cmd.name, "err", err)
		var invalid *config.InvalidError
		if errors.As(err, &invalid) {
			return 2
		}
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

// setupPorts prints the ports declared in the registry, so the local
// scripts keep no list of their own.
func setupPorts(*flag.FlagSet) func(context.Context, *slog.Logger) error {
	return func(context.Context, *slog.Logger) error {
		for _, m := range modules {
			if _, err := fmt.Printf("%s %d\n", m.Name, m.Port); err != nil {
				return err
			}
		}
		return nil
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Footfall: website activity tracking and analytics.\n\nUsage: footfall <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'footfall <command> -h' for its flags.\n")
}
