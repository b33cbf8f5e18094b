package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"time"

	"github.com/footfall/footfall/internal/kafka"
)

// One Append is one frame: its records are written, checked and forwarded
// as a unit, so a crash keeps a batch whole or loses it whole.
//
//	magic   4 bytes   0xff 'F' 'S' 'P'
//	length  uint32    payload bytes, little-endian
//	crc     uint32    CRC-32C of length and payload
//	payload           version 1, appended (int64 unix ns), record count,
//	                  then per record: topic, key, value, timestamp, headers
//
// The magic lets a reader find the next whole frame after a damaged one;
// 0xff never occurs in the UTF-8 JSON the collector spools, so it rarely
// occurs by chance. The checksum covers the length too, so a torn or flipped
// length is caught like a torn payload.
const (
	headerSize   = 12
	frameVersion = 1
	// maxFrame bounds what a reader believes a length field: a damaged one
	// must not make it allocate gigabytes.
	maxFrame = 64 << 20
)

var (
	magic      = [4]byte{0xff, 'F', 'S', 'P'}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	errFrame   = errors.New("damaged frame")
)

// encodeFrame returns recs, appended at at, as one frame.
func encodeFrame(at time.Time, recs []kafka.Record) []byte {
	size := headerSize + 1 + 8 + binary.MaxVarintLen64
	for _, r := range recs {
		size += 5*binary.MaxVarintLen64 + len(r.Topic) + len(r.Key) + len(r.Value)
		for _, h := range r.Headers {
			size += 2*binary.MaxVarintLen64 + len(h.Key) + len(h.Value)
		}
	}
	b := make([]byte, headerSize, size)
	copy(b, magic[:])
	b = append(b, frameVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(at.UnixNano()))
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, r := range recs {
		b = appendBytes(b, []byte(r.Topic))
		b = appendNullable(b, r.Key)
		b = appendNullable(b, r.Value)
		var ts int64
		if !r.Timestamp.IsZero() {
			ts = r.Timestamp.UnixNano()
		}
		b = binary.AppendVarint(b, ts)
		b = binary.AppendUvarint(b, uint64(len(r.Headers)))
		for _, h := range r.Headers {
			b = appendBytes(b, []byte(h.Key))
			b = appendNullable(b, h.Value)
		}
	}
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(b)-headerSize))
	binary.LittleEndian.PutUint32(b[8:12], frameSum(b))
	return b
}

// frameSum is the checksum of frame b: its length field and payload.
func frameSum(b []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, b[4:8]), castagnoli, b[headerSize:])
}

func appendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// appendNullable keeps nil apart from empty: a record without a key is
// partitioned differently from one with an empty key.
func appendNullable(b, v []byte) []byte {
	if v == nil {
		return binary.AppendUvarint(b, 0)
	}
	return append(binary.AppendUvarint(b, uint64(len(v))+1), v...)
}

// frameLen reads a frame header at the start of b: the whole frame's length,
// or false when b does not start with a plausible header.
func frameLen(b []byte) (int, bool) {
	if len(b) < headerSize || !bytes.Equal(b[:4], magic[:]) {
		return 0, false
	}
	n := binary.LittleEndian.Uint32(b[4:8])
	if n > maxFrame {
		return 0, false
	}
	return headerSize + int(n), true
}

// parseFrame decodes the frame at the start of b. The records' keys, values
// and headers point into b.
func parseFrame(b []byte) (appended time.Time, recs []kafka.Record, n int, err error) {
	n, ok := frameLen(b)
	if !ok || n > len(b) {
		return time.Time{}, nil, 0, errFrame
	}
	if frameSum(b[:n]) != binary.LittleEndian.Uint32(b[8:12]) {
		return time.Time{}, nil, 0, errFrame
	}
	d := decoder{b: b[headerSize:n]}
	if d.byte() != frameVersion {
		return time.Time{}, nil, 0, errFrame
	}
	appended = time.Unix(0, int64(d.uint64()))
	count := d.uvarint()
	if count > uint64(len(d.b)) { // every record takes at least a byte
		return time.Time{}, nil, 0, errFrame
	}
	recs = make([]kafka.Record, count)
	for i := range recs {
		r := &recs[i]
		r.Topic = string(d.bytes())
		r.Key = d.nullable()
		r.Value = d.nullable()
		if ts := d.varint(); ts != 0 {
			r.Timestamp = time.Unix(0, ts)
		}
		nh := d.uvarint()
		if nh > uint64(len(d.b)) {
			return time.Time{}, nil, 0, errFrame
		}
		for range nh {
			r.Headers = append(r.Headers, kafka.Header{Key: string(d.bytes()), Value: d.nullable()})
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return time.Time{}, nil, 0, errFrame
	}
	return appended, recs, n, nil
}

// decoder reads a payload; the first short read sets err and every later
// read returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = io.ErrUnexpectedEOF, nil }

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) take(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte { return d.take(d.uvarint()) }

func (d *decoder) nullable() []byte {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	return d.take(n - 1)
}
