package spool

import (
	"time"

	"github.com/footfall/footfall/internal/config"
)

// Config is the spool's part of the collector's configuration. The names in
// Validate's errors are the collector's flags.
type Config struct {
	// Dir holds the segment files (--collector-spool-dir). One process per
	// directory: Open locks it.
	Dir string
	// MaxBytes bounds the segment files on disk
	// (--collector-spool-max-bytes); past it Append returns ErrFull.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started. A
	// segment is deleted once Kafka has acknowledged all of it, so space
	// comes back in steps of this size.
	SegmentBytes int64
	// FsyncInterval 0 fsyncs every batch before Append returns. Otherwise
	// a batch is fsynced within FsyncInterval, and Append returns once it
	// is written: it survives the process being killed, not a power cut in
	// that interval.
	FsyncInterval time.Duration
}

// DefaultConfig: 1 GiB (about a million beacon events), 16 MiB segments, an
// fsync per batch. Dir has no default here; the collector gives it one.
func DefaultConfig() Config {
	return Config{MaxBytes: 1 << 30, SegmentBytes: 16 << 20}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return config.Invalid("collector-spool-dir", `""`, "a directory")
	case c.MaxBytes < 64<<10:
		return config.Invalid("collector-spool-max-bytes", c.MaxBytes, "at least 65536")
	case c.SegmentBytes < 4<<10 || c.SegmentBytes > c.MaxBytes:
		return config.Invalid("collector-spool-segment-bytes", c.SegmentBytes, "at least 4096 and at most --collector-spool-max-bytes")
	case c.FsyncInterval < 0:
		return config.Invalid("collector-spool-fsync-interval", c.FsyncInterval, "0 (every batch) or a positive duration")
	}
	return nil
}
