package bundle

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Timeouts bound how long the agent can hold a connection to the bundle
// without using it. A zero field takes its default from limits.go; tests
// set short ones.
//
// The choice, so legitimate long streams survive:
//   - ReadHeader bounds a request's header (slowloris).
//   - Idle closes keep-alive connections with no request.
//   - A request body must arrive at MinBodyRate bytes per second on
//     average once BodyGrace has passed (a trickled body is cut off);
//     a large upload that keeps flowing is never cut. Once the body has
//     been read whole the read deadline is lifted, so a long response
//     (a download, a server-sent event stream, a slow git fetch) is
//     never cut by a read timeout.
//   - CONNECT tunnels, blind or intercepted, are hijacked out of the
//     server's timeouts; they are closed after TunnelIdle with no byte
//     either way. A WebSocket (inside an intercepted tunnel) that pings
//     more often than that lives as long as it is used.
//   - There is no write timeout on a whole response, so one that keeps
//     flowing is never cut; but one write to the agent that waits
//     longer than WriteStall (the agent stopped reading) drops the
//     connection, tunnels included.
//
// docs/limits.md says the same for operators.
type Timeouts struct {
	ReadHeader  time.Duration
	Idle        time.Duration
	BodyGrace   time.Duration
	MinBodyRate int64 // bytes per second
	TunnelIdle  time.Duration
	WriteStall  time.Duration
}

// withDefaults fills the zero fields from limits.go.
func (t Timeouts) withDefaults() Timeouts {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.ReadHeader, readHeaderTimeout)
	def(&t.Idle, idleTimeout)
	def(&t.BodyGrace, bodyGrace)
	def(&t.TunnelIdle, tunnelIdleTimeout)
	def(&t.WriteStall, writeStallTimeout)
	if t.MinBodyRate <= 0 {
		t.MinBodyRate = minBodyRate
	}
	return t
}

// bodyDeadlines applies the minimum body rate to h's requests. The
// server's ReadTimeout bounds a request until h starts; from then on a
// request without a body has no read deadline (a response may stream as
// long as it flows), and one with a body must keep up with
// t.MinBodyRate after t.BodyGrace until it has been read whole.
func bodyDeadlines(h http.Handler, t Timeouts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.Body == nil || r.Body == http.NoBody {
			rc.SetReadDeadline(time.Time{})
			h.ServeHTTP(w, r)
			return
		}
		b := &rateBody{ReadCloser: r.Body, rc: rc, start: time.Now(), t: t}
		rc.SetReadDeadline(b.start.Add(t.BodyGrace))
		r.Body = b
		h.ServeHTTP(w, r)
	})
}

// rateBody moves the connection's read deadline as a body arrives: the
// n bytes read so far buy n/MinBodyRate seconds after the grace.
type rateBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	t     Timeouts
	n     int64
}

func (b *rateBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	switch {
	case err == io.EOF:
		b.rc.SetReadDeadline(time.Time{})
	case err == nil:
		earned := time.Duration(float64(b.n) / float64(b.t.MinBodyRate) * float64(time.Second))
		b.rc.SetReadDeadline(b.start.Add(b.t.BodyGrace + earned))
	}
	return n, err
}

// idleTunnel closes a tunnel once no byte has crossed it either way for
// its timeout. Both ends of a blind tunnel, or the agent's end of an
// intercepted one, are wrapped with conn; a read or write that waits
// longer than the timeout ends with a timeout error only when the other
// direction was idle too.
type idleTunnel struct {
	idle time.Duration
	last atomic.Int64 // unix nanoseconds of the last byte either way
}

func newIdleTunnel(idle time.Duration) *idleTunnel {
	t := &idleTunnel{idle: idle}
	t.touch()
	return t
}

func (t *idleTunnel) touch() { t.last.Store(time.Now().UnixNano()) }

// active reports whether a byte crossed the tunnel within the timeout.
func (t *idleTunnel) active() bool {
	return time.Since(time.Unix(0, t.last.Load())) < t.idle
}

// conn wraps c so its traffic counts for the tunnel.
func (t *idleTunnel) conn(c net.Conn) net.Conn { return &idleConn{Conn: c, t: t} }

// idleConn is one end of an idle tunnel. A deadline its user sets (the
// server inside an intercepted tunnel sets its own) still applies: the
// connection's deadline is the earlier of the user's and the idle one.
type idleConn struct {
	net.Conn
	t *idleTunnel

	mu        sync.Mutex // orders deadline updates against the user's
	userRead  time.Time
	userWrite time.Time
}

func (c *idleConn) Read(p []byte) (int, error) {
	for {
		user := c.arm(true)
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.t.touch()
		}
		if n == 0 && c.retry(err, user) {
			continue
		}
		return n, err
	}
}

func (c *idleConn) Write(p []byte) (int, error) {
	written := 0
	for {
		user := c.arm(false)
		n, err := c.Conn.Write(p[written:])
		written += n
		if n > 0 {
			c.t.touch()
		}
		if err != nil && c.retry(err, user) {
			continue
		}
		return written, err
	}
}

// arm sets the connection's read or write deadline to the earlier of
// the user's and the idle timeout, and returns the user's.
func (c *idleConn) arm(read bool) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	user := c.userWrite
	set := c.Conn.SetWriteDeadline
	if read {
		user, set = c.userRead, c.Conn.SetReadDeadline
	}
	dl := time.Now().Add(c.t.idle)
	if !user.IsZero() && user.Before(dl) {
		dl = user
	}
	set(dl)
	return user
}

// retry reports whether err is only the idle timer firing while the
// tunnel is still in use the other way, and the user's deadline has not
// passed. The next arm reads the user's deadline again, so one set
// meanwhile (net/http aborting a read) still ends the loop.
func (c *idleConn) retry(err error, user time.Time) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	if !user.IsZero() && !time.Now().Before(user) {
		return false
	}
	return c.t.active()
}

func (c *idleConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.userRead = t
	return c.Conn.SetReadDeadline(c.earlier(t))
}

func (c *idleConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.userWrite = t
	return c.Conn.SetWriteDeadline(c.earlier(t))
}

func (c *idleConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.userRead, c.userWrite = t, t
	return c.Conn.SetDeadline(c.earlier(t))
}

// earlier is the deadline to arm for a user's deadline t.
func (c *idleConn) earlier(t time.Time) time.Time {
	dl := time.Now().Add(c.t.idle)
	if !t.IsZero() && t.Before(dl) {
		return t
	}
	return dl
}

// CloseWrite half-closes the wrapped connection when it can (splice).
func (c *idleConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// stallListener wraps every accepted connection so that one write to the
// agent waiting longer than stall fails, and the server drops the
// connection. Hijacked connections (CONNECT tunnels) keep the wrapper.
type stallListener struct {
	net.Listener
	stall time.Duration
}

func (l stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stallConn{Conn: c, stall: l.stall}, nil
}

// stallConn arms a write deadline of stall before each write, or the
// user's deadline when that is earlier.
type stallConn struct {
	net.Conn
	stall time.Duration

	mu   sync.Mutex
	user time.Time // the write deadline its user set
}

func (c *stallConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	dl := time.Now().Add(c.stall)
	if !c.user.IsZero() && c.user.Before(dl) {
		dl = c.user
	}
	c.Conn.SetWriteDeadline(dl)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.user = t
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.user = t
	return c.Conn.SetDeadline(t)
}

// CloseWrite half-closes the TCP connection (splice).
func (c *stallConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
