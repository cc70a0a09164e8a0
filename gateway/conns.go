package gateway

import (
	"errors"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"
)

// This file belongs to the go-nfs front end (server.go) and goes with it.

// Client is one connected NFS client of a Server.
type Client struct {
	Addr  string    // remote address, host:port
	Since time.Time // when the connection was accepted
}

// conns tracks the live connections of a Server. go-nfs has no shutdown:
// its accept loop runs until the listener fails, and each connection's
// goroutine until a read fails. So Close closes the listeners and the
// connections tracked here.
type conns struct {
	mu        sync.Mutex
	closed    bool
	listeners map[*listener]struct{}
	live      map[*conn]struct{}
	rpc       *rpcStats // counts the RPCs of every connection
}

func newConns() *conns {
	return &conns{listeners: map[*listener]struct{}{}, live: map[*conn]struct{}{}, rpc: new(rpcStats)}
}

// listen wraps l so its connections are tracked; false after close.
func (cs *conns) listen(l net.Listener) (*listener, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return nil, false
	}
	tl := &listener{Listener: l, cs: cs}
	cs.listeners[tl] = struct{}{}
	return tl, true
}

// clients lists the live connections, oldest first.
func (cs *conns) clients() []Client {
	cs.mu.Lock()
	out := make([]Client, 0, len(cs.live))
	for c := range cs.live {
		out = append(out, Client{Addr: c.RemoteAddr().String(), Since: c.since})
	}
	cs.mu.Unlock()
	slices.SortFunc(out, func(a, b Client) int { return a.Since.Compare(b.Since) })
	return out
}

// close closes every listener and connection, and any accepted later.
func (cs *conns) close() {
	cs.mu.Lock()
	cs.closed = true
	ls := make([]*listener, 0, len(cs.listeners))
	for l := range cs.listeners {
		ls = append(ls, l)
	}
	live := make([]*conn, 0, len(cs.live))
	for c := range cs.live {
		live = append(live, c)
	}
	cs.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, c := range live {
		c.Close()
	}
}

func (cs *conns) isClosed() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.closed
}

// retryAccept reports whether an accept error passes.
func retryAccept(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// listener tracks the connections it accepts.
type listener struct {
	net.Listener
	cs        *conns
	closeOnce sync.Once
	closeErr  error
}

// Accept wraps the next connection, refusing it if the server is closing.
// go-nfs stops serving on the first accept error that is not a timeout, so
// errors that pass (out of file descriptors, a connection reset before it
// was accepted) are retried here with a backoff, as net/http does.
func (l *listener) Accept() (net.Conn, error) {
	var nc net.Conn
	delay := 5 * time.Millisecond
	for {
		var err error
		nc, err = l.Listener.Accept()
		if err == nil {
			break
		}
		if !retryAccept(err) || l.cs.isClosed() {
			return nil, err
		}
		time.Sleep(delay)
		delay = min(2*delay, time.Second)
	}
	c := &conn{Conn: nc, cs: l.cs, since: time.Now(), tap: newRPCTap(l.cs.rpc)}
	l.cs.mu.Lock()
	closed := l.cs.closed
	if !closed {
		l.cs.live[c] = struct{}{}
	}
	l.cs.mu.Unlock()
	if closed {
		nc.Close()
		return nil, net.ErrClosed
	}
	return c, nil
}

// Close closes the listener once (go-nfs closes it too, on return).
func (l *listener) Close() error {
	l.closeOnce.Do(func() {
		l.closeErr = l.Listener.Close()
		l.cs.mu.Lock()
		delete(l.cs.listeners, l)
		l.cs.mu.Unlock()
	})
	return l.closeErr
}

// conn is a tracked connection. go-nfs leaves a connection open when a
// read fails with anything but EOF, and keeps reading after a write
// fails, so both close it here: go-nfs never recovers a connection after
// either.
type conn struct {
	net.Conn
	cs    *conns
	since time.Time
	once  sync.Once
	tap   *rpcTap // times the RPCs from copies of the bytes (rpcstats.go)
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.tap.read(p[:n])
	}
	if err != nil {
		c.Close()
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.tap.wrote(p[:n])
	}
	if err != nil {
		c.Close()
	}
	return n, err
}

// Close closes the connection and forgets it.
func (c *conn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		err = c.Conn.Close()
		c.cs.mu.Lock()
		delete(c.cs.live, c)
		c.cs.mu.Unlock()
	})
	return err
}

// RPCStats returns the RPC counters by procedure: every NFSv3 and MOUNT
// procedure, then "other".
func (s *Server) RPCStats() []ProcStats { return s.conns.rpc.snapshot() }
