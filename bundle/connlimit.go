package bundle

import (
	"net"
	"sync"
)

// The agent can open connections to the bundle for nothing: an idle
// intercepted tunnel costs the bundle a file descriptor, two goroutines
// and about 50 KiB of buffers, and keeping one open costs the agent a
// request every Timeouts.Idle. So each daemon serves at most
// maxAgentConns connections at once (hijacked ones, CONNECT tunnels and
// WebSockets, included, until they close); a connection past that is not
// accepted but waits in the listen queue until another ends. The agent
// is the only client, so the wait falls on the agent that opened them.

// limitListener accepts a connection only while fewer than cap(sem) it
// accepted are open.
type limitListener struct {
	net.Listener
	sem  chan struct{}
	done chan struct{}
	once sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

// Close closes the listener and ends an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back when first closed.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite half-closes the TCP connection (splice).
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
