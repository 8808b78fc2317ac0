package bundle

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/bottleplan/bottleplan/plan"
)

// intercept terminates the agent's TLS on a CONNECT tunnel to an
// intercepted route with a leaf certificate for host signed by the
// instance CA, then serves the HTTP/1.1 requests inside it one by one
// through the route's checks. Only "http/1.1" is offered in ALPN, so every
// request is seen whole.
func (p *Proxy) intercept(conn net.Conn, host string, port int, route *plan.Route) {
	tc := tls.Server(conn, &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return p.ca.Leaf(host)
		},
		NextProtos: []string{"http/1.1"},
		MinVersion: tls.VersionTLS12,
	})
	to := p.timeouts.withDefaults()
	srv := &http.Server{
		Handler: bodyDeadlines(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.serveInner(w, r, host, port, route)
		}), to),
		ReadHeaderTimeout: to.ReadHeader,
		ReadTimeout:       to.ReadHeader + to.BodyGrace,
		IdleTimeout:       to.Idle,
		ErrorLog:          p.errLog,
	}
	srv.Serve(newOneConnListener(tc))
}

// serveInner handles one request inside an intercepted tunnel. The
// upstream is always the CONNECT target; a Host header naming anything
// else is refused (no fronting another host through an allowed tunnel).
func (p *Proxy) serveInner(w http.ResponseWriter, r *http.Request, host string, port int, route *plan.Route) {
	d := Decision{Method: r.Method, Host: host, Port: port, Path: r.URL.Path, Route: route.Host}
	hh, hp, err := splitHostPort(r.Host, port)
	if err != nil || normalizeHost(hh) != host || hp != port {
		p.deny(w, d, VerdictDeny, fmt.Sprintf("Host header %q does not match the tunnel to %s:%d", r.Host, host, port))
		return
	}
	if r.URL.IsAbs() || r.Method == http.MethodConnect {
		p.deny(w, d, VerdictDeny, "nested proxy requests are not allowed inside a tunnel")
		return
	}
	r.URL.Scheme = "https"
	r.URL.Host = host
	if port != 443 {
		r.URL.Host = net.JoinHostPort(host, strconv.Itoa(port))
	}
	p.handleRouted(w, r, route, d)
}

// handleRouted applies an allowed route to one request whose URL is
// absolute: for intercepted routes the matches, DLP and credential
// injection; then forwards it.
func (p *Proxy) handleRouted(w http.ResponseWriter, r *http.Request, route *plan.Route, d Decision) {
	if !route.Intercept {
		d.Verdict = VerdictAllow
		p.record(d)
		p.forward(w, r, "", d)
		return
	}
	action := p.dlpAction(route)
	if reason, ok := CheckRequest(route, r.Method, r.URL.Path); !ok {
		if action == DLPSupervise {
			p.deny(w, d, VerdictHold, "held for supervision: "+reason)
		} else {
			p.deny(w, d, VerdictDeny, reason)
		}
		return
	}
	body, release, err := p.readBody(r)
	if err != nil {
		p.deny(w, d, VerdictDeny, err.Error())
		return
	}
	defer release()
	if route.Auth != nil {
		// The agent's own credential never goes upstream.
		r.Header.Del("Authorization")
	}
	d.Verdict = VerdictAllow
	found, err := p.secrets.scan(r, body)
	if err != nil {
		p.deny(w, d, VerdictDeny, err.Error())
		return
	}
	if len(found) > 0 {
		reason := "request carries the value of secret " + strings.Join(found, ", ")
		switch action {
		case DLPSupervise:
			p.deny(w, d, VerdictHold, "held for supervision: "+reason)
			return
		case DLPRedact:
			if body, err = p.secrets.redact(r, body); err != nil {
				p.deny(w, d, VerdictDeny, err.Error())
				return
			}
			d.Verdict, d.Reason = VerdictRedact, reason
			d.Path = r.URL.Path
		default:
			p.deny(w, d, VerdictDeny, reason)
			return
		}
	}
	setBody(r, body)
	authz := ""
	if route.Auth != nil {
		tok := p.getenv(route.Auth.TokenRef)
		if tok == "" {
			p.deny(w, d, VerdictDeny, fmt.Sprintf("route %s needs %s but it is not set in the bundle; set it on the host and apply again", route.Host, route.Auth.TokenRef))
			return
		}
		authz = authorization(route.Auth.Scheme, tok)
	}
	p.record(d)
	p.forward(w, r, authz, d)
}

// dlpAction is the route's DLP action as the bundle applies it.
func (p *Proxy) dlpAction(route *plan.Route) string {
	switch route.DLP {
	case DLPSupervise:
		if p.supervise {
			return DLPSupervise
		}
	case DLPRedact:
		return DLPRedact
	}
	return DLPBlock
}

// oneConnListener hands out one connection, then blocks Accept until that
// connection is closed, so http.Server.Serve returns exactly when the
// tunnel ends.
type oneConnListener struct {
	conn   net.Conn
	once   sync.Once
	closed chan struct{}
	taken  bool
	mu     sync.Mutex
}

func newOneConnListener(c net.Conn) *oneConnListener {
	l := &oneConnListener{closed: make(chan struct{})}
	l.conn = &notifyConn{Conn: c, onClose: func() { l.once.Do(func() { close(l.closed) }) }}
	return l
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if !l.taken {
		l.taken = true
		l.mu.Unlock()
		return l.conn, nil
	}
	l.mu.Unlock()
	<-l.closed
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }

// notifyConn calls onClose the first time it is closed.
type notifyConn struct {
	net.Conn
	onClose func()
}

func (c *notifyConn) Close() error {
	err := c.Conn.Close()
	c.onClose()
	return err
}
