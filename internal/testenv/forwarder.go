package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Forwarder is a TCP address where a dependency is absent until Start,
// then forwards every connection to target: a test can start a service
// before its database and bring the database in later. Stop takes it away
// again, cutting the connections it carried.
type Forwarder struct {
	t      testing.TB
	Addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
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

// Start listens on Addr and forwards.
func (f *Forwarder) Start() {
	f.t.Helper()
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		f.t.Fatalf("forwarder to %s: %v", f.target, err)
	}
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.forward(c)
		}
	}()
}

func (f *Forwarder) forward(c net.Conn) {
	up, err := net.Dial("tcp", f.target)
	if err != nil {
		_ = c.Close()
		return
	}
	f.mu.Lock()
	f.conns = append(f.conns, c, up)
	f.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
	_, _ = io.Copy(c, up)
	_ = c.Close()
}

// Stop closes the listener and every connection it carried.
func (f *Forwarder) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		_ = f.ln.Close()
		f.ln = nil
	}
	for _, c := range f.conns {
		_ = c.Close()
	}
	f.conns = nil
}
