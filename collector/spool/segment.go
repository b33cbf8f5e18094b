package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/footfall/footfall/internal/kafka"
)

// A segment is one file of frames, named by a sequence number that never
// repeats in a directory. Only the newest segment of a running spool is
// written to; a spool that opens a directory starts a new segment rather than
// appending after what a crash may have left torn.
type segment struct {
	seq  uint64
	size int64 // bytes that hold frames (the file may hold more after a failed write)
}

const segmentExt = ".wal"

func segmentPath(dir string, seq uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", seq, segmentExt))
}

// listSegments returns dir's segments, oldest first, sized as on disk.
func listSegments(dir string) ([]segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: list %s: %w", dir, err)
	}
	var segs []segment
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segmentExt)
		if !ok || len(name) != 20 || !e.Type().IsRegular() {
			continue
		}
		seq, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("spool: stat %s: %w", e.Name(), err)
		}
		segs = append(segs, segment{seq: seq, size: fi.Size()})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].seq < segs[j].seq })
	return segs, nil
}

// frame is what a reader found at one offset of a segment: a batch, or a
// damaged stretch (recs nil) that ends where the next whole frame starts.
type frame struct {
	end      int64
	appended time.Time
	recs     []kafka.Record
}

// readFrame reads the frame at off in f, whose frames end at bound.
func readFrame(f io.ReaderAt, off, bound int64) (frame, error) {
	var hdr [headerSize]byte
	if bound-off >= headerSize {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			return frame{}, fmt.Errorf("spool: read %s at %d: %w", name(f), off, err)
		}
		if n, ok := frameLen(hdr[:]); ok && int64(n) <= bound-off {
			b := make([]byte, n)
			if _, err := f.ReadAt(b, off); err != nil {
				return frame{}, fmt.Errorf("spool: read %s at %d: %w", name(f), off, err)
			}
			if at, recs, _, err := parseFrame(b); err == nil {
				return frame{end: off + int64(n), appended: at, recs: recs}, nil
			}
		}
	}
	return resync(f, off, bound)
}

// resync finds the first whole frame after a damaged one at off: the
// damaged stretch ends there, or at bound when none follows (a torn tail).
func resync(f io.ReaderAt, off, bound int64) (frame, error) {
	rest := make([]byte, bound-off-1)
	if _, err := f.ReadAt(rest, off+1); err != nil {
		return frame{}, fmt.Errorf("spool: read %s at %d: %w", name(f), off+1, err)
	}
	for p := 0; ; p++ {
		i := bytes.Index(rest[p:], magic[:])
		if i < 0 {
			return frame{end: bound}, nil
		}
		p += i
		if _, _, _, err := parseFrame(rest[p:]); err == nil {
			return frame{end: off + 1 + int64(p)}, nil
		}
	}
}

func name(f io.ReaderAt) string {
	if f, ok := f.(*os.File); ok {
		return f.Name()
	}
	return "segment"
}

// A checkpoint says how far the drainer got: every frame of segment seq
// before off is in Kafka. It is overwritten in place after each
// acknowledged batch and not fsynced: it survives a crashed process, and
// after a power cut it may be stale or torn, which costs re-sent
// duplicates, never records, because it is only ever behind the truth.
type checkpoint struct {
	seq uint64
	off int64
}

const checkpointFile = "drained"

func (c checkpoint) encode() []byte {
	b := binary.LittleEndian.AppendUint64(nil, c.seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(c.off))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// readCheckpoint returns f's checkpoint; false when it has none or a torn one.
func readCheckpoint(f io.ReaderAt) (checkpoint, bool, error) {
	var b [20]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return checkpoint{}, false, nil
		}
		return checkpoint{}, false, fmt.Errorf("spool: read checkpoint: %w", err)
	}
	if crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return checkpoint{}, false, nil
	}
	return checkpoint{seq: binary.LittleEndian.Uint64(b[:8]), off: int64(binary.LittleEndian.Uint64(b[8:16]))}, true, nil
}

// syncDir makes a created or removed file name durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
