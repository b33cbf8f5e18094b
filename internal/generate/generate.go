package generate

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/footfall/footfall/internal/event"
)

// Sink takes one batch of events; loader.ClickHouse is the one that
// matters.
type Sink interface {
	Write(ctx context.Context, events []*event.Event) error
}

// Summary is what a run wrote.
type Summary struct {
	Events   int
	Batches  int
	Elapsed  time.Duration
	From, To time.Time // first and last event time
}

// PerSecond is the run's rate over its whole time.
func (s Summary) PerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Events) / s.Elapsed.Seconds()
}

// progressEvery spaces the progress lines of a run.
const progressEvery = 10 * time.Second

// Run writes cfg's events to sink in batches of cfg.Batch, in time order,
// and logs its progress. The next batch is made while the sink writes the
// last one.
func Run(ctx context.Context, cfg Config, sink Sink, log *slog.Logger) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []*event.Event, 1)
	go func() {
		defer close(batches)
		s := NewStream(cfg)
		for b := s.Batch(cfg.Batch); len(b) > 0; b = s.Batch(cfg.Batch) {
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Stop the maker and wait for it before returning, whatever happens.
	defer func() {
		cancel()
		for range batches {
		}
	}()

	log.Info("generating", "events", cfg.Events, "site", cfg.Site, "days", cfg.Days,
		"from", cfg.start().Format(time.RFC3339), "end", cfg.End.Format(time.RFC3339), "seed", cfg.Seed, "batch", cfg.Batch)
	var sum Summary
	began, reported := time.Now(), time.Now()
	for b := range batches {
		if err := sink.Write(ctx, b); err != nil {
			return sum, fmt.Errorf("write batch %d (%d events from %s): %w",
				sum.Batches+1, len(b), time.UnixMilli(b[0].TS).UTC().Format(time.RFC3339), err)
		}
		if sum.Batches == 0 {
			sum.From = time.UnixMilli(b[0].TS).UTC()
		}
		sum.To = time.UnixMilli(b[len(b)-1].TS).UTC()
		sum.Events += len(b)
		sum.Batches++
		sum.Elapsed = time.Since(began)
		if time.Since(reported) >= progressEvery || sum.Events == cfg.Events {
			reported = time.Now()
			rate := sum.PerSecond()
			left := time.Duration(float64(cfg.Events-sum.Events) / max(rate, 1) * float64(time.Second))
			log.Info("progress", "written", sum.Events, "of", cfg.Events,
				"percent", fmt.Sprintf("%.1f", 100*float64(sum.Events)/float64(cfg.Events)),
				"events_per_second", int(rate), "up_to", sum.To.Format(time.RFC3339), "eta", left.Round(time.Second).String())
		}
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	return sum, nil
}
