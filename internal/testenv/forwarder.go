package testenv

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
)

// Forwarder is a TCP address where a dependency is absent until Start,
// then forwards every connection to target: a test can start a service
// before its database and bring the database in later. Stop takes it away
// again, cutting the connections it carried. Pause and Resume do the same
// while keeping the port, so that nothing else can take it meanwhile.
type Forwarder struct {
	t      testing.TB
	Addr   string
	target string
	// rewrite, if set, edits each frame the target sends back.
	rewrite func(frame []byte)

	mu     sync.Mutex
	ln     net.Listener
	paused bool
	conns  []net.Conn
}

// NewForwarder reserves a free loopback port for target; nothing listens
// on it until Start.
func NewForwarder(t testing.TB, target string) *Forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Forwarder{t: t, Addr: ln.Addr().String(), target: target}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

// NewKafkaForwarder is a Forwarder to the one Kafka broker at broker, on
// this machine, which advertises broker as its address (deploy/local's
// does). A client learns where to produce from the broker's metadata, and
// would go straight to the broker from then on; this forwarder puts its
// own port in place of the broker's in everything the broker answers, so
// the client keeps coming through it and Stop or Pause takes Kafka away
// from that client alone, never from the other tests sharing the broker.
func NewKafkaForwarder(t testing.TB, broker string) *Forwarder {
	t.Helper()
	f := NewForwarder(t, broker)
	host, port, err := net.SplitHostPort(broker)
	if err != nil {
		t.Fatalf("kafka forwarder: %v", err)
	}
	_, own, _ := net.SplitHostPort(f.Addr)
	from, err1 := strconv.ParseUint(port, 10, 16)
	to, err2 := strconv.ParseUint(own, 10, 16)
	if err1 != nil || err2 != nil {
		t.Fatalf("kafka forwarder: ports %q, %q", port, own)
	}
	// In a metadata answer a broker is its host, as a string, followed by
	// its port as a 32-bit integer: the same bytes with another port keep
	// every length as it was.
	old := binary.BigEndian.AppendUint32([]byte(host), uint32(from))
	repl := binary.BigEndian.AppendUint32([]byte(host), uint32(to))
	f.rewrite = func(frame []byte) {
		for i := 0; ; {
			j := bytes.Index(frame[i:], old)
			if j < 0 {
				return
			}
			i += j
			copy(frame[i:], repl)
			i += len(repl)
		}
	}
	return f
}

// Start listens on Addr and forwards.
func (f *Forwarder) Start() {
	f.t.Helper()
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		f.t.Fatalf("forwarder to %s: %v", f.target, err)
	}
	f.mu.Lock()
	f.ln, f.paused = ln, false
	f.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.forward(ln, c)
		}
	}()
}

func (f *Forwarder) forward(ln net.Listener, c net.Conn) {
	if !f.carrying(ln) {
		_ = c.Close()
		return
	}
	up, err := net.Dial("tcp", f.target)
	if err != nil {
		_ = c.Close()
		return
	}
	f.mu.Lock()
	if f.ln != ln || f.paused { // stopped or paused while dialling
		f.mu.Unlock()
		_, _ = c.Close(), up.Close()
		return
	}
	f.conns = append(f.conns, c, up)
	f.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
	if f.rewrite != nil {
		_ = copyFrames(c, up, f.rewrite)
	} else {
		_, _ = io.Copy(c, up)
	}
	_ = c.Close()
}

// carrying says whether connections that ln accepts are forwarded now.
func (f *Forwarder) carrying(ln net.Listener) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ln == ln && !f.paused
}

// copyFrames copies Kafka's size-prefixed frames from src to dst, each
// whole and edited by rewrite.
func copyFrames(dst io.Writer, src io.Reader, rewrite func([]byte)) error {
	var size [4]byte
	for {
		if _, err := io.ReadFull(src, size[:]); err != nil {
			return err
		}
		frame := make([]byte, 4+binary.BigEndian.Uint32(size[:]))
		copy(frame, size[:])
		if _, err := io.ReadFull(src, frame[4:]); err != nil {
			return err
		}
		rewrite(frame[4:])
		if _, err := dst.Write(frame); err != nil {
			return err
		}
	}
}

// Pause cuts every connection and closes each new one as soon as it is
// accepted, keeping the port: to its clients the dependency is gone, as
// after Stop. Resume forwards again.
func (f *Forwarder) Pause() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = true
	f.cut()
}

// Resume ends a Pause.
func (f *Forwarder) Resume() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = false
}

// Stop closes the listener and every connection it carried.
func (f *Forwarder) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		_ = f.ln.Close()
		f.ln = nil
	}
	f.cut()
}

// cut closes every connection carried; f.mu is held.
func (f *Forwarder) cut() {
	for _, c := range f.conns {
		_ = c.Close()
	}
	f.conns = nil
}
