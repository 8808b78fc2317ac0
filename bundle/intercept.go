package bundle

import (
	"context"
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
func (p *Proxy) intercept(conn net.Conn, tun *idleTunnel, host string, port int, route *plan.Route) {
	tc := tls.Server(conn, &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return p.ca.leafFor(host, p.mayMint)
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
		// A request held for supervision keeps its tunnel in use
		// (hold.go).
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, tunnelKey{}, tun)
		},
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
		// Not r.Host: the reason is part of the log's aggregation key.
		p.deny(w, d, VerdictDeny, fmt.Sprintf("the Host header does not match the tunnel to %s:%d", host, port))
		return
	}
	if r.URL.IsAbs() || r.Method == http.MethodConnect {
		p.deny(w, d, VerdictDeny, "nested proxy requests are not allowed inside a tunnel")
		return
	}
	if !p.stillAllowed(host, port) {
		p.deny(w, d, VerdictDeny, fmt.Sprintf("the runtime grant for %s:%d was revoked", host, port))
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
	upgrade := upgradeRequested(r)
	if upgrade {
		if reason := checkUpgrade(r, route); reason != "" {
			p.deny(w, d, VerdictDeny, reason)
			return
		}
	}
	if !route.Intercept {
		d.Verdict = VerdictAllow
		p.record(d)
		p.forward(w, r, "", d)
		return
	}
	stripOverrides(r.Header)
	action := p.dlpAction(route)
	// held collects what a "supervise" action caught: the request is
	// read and scanned whole first, so the operator decides on all of it
	// at once (hold.go).
	var held []string
	reason, ok := p.normalizeRequestPath(r, route)
	if ok {
		d.Path = r.URL.Path
		reason, ok = CheckRequest(route, r.Method, r.URL.Path)
	}
	if !ok {
		if action != DLPSupervise {
			p.deny(w, d, VerdictDeny, reason)
			return
		}
		held = append(held, reason)
	}
	body, release, err := p.readBody(r)
	if err != nil {
		p.deny(w, d, VerdictDeny, err.Error())
		return
	}
	var once sync.Once
	release = func(f func()) func() { return func() { once.Do(f) } }(release)
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
			held = append(held, reason)
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
	if len(held) > 0 {
		// A held request gives its inspection slot back: it may wait
		// for hours, and must not starve other uploads.
		release()
		if !p.holdRequest(w, r, &d, strings.Join(held, "; "), len(body)) {
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
	if upgrade {
		p.forwardWebSocket(w, r, authz, d)
		return
	}
	p.record(d)
	p.forward(w, r, authz, d)
}

// normalizeRequestPath makes r's path its normal form (normalizePath)
// on a route with matches, so that the path matched is the path sent
// upstream, or says why the path is refused. A route without matches
// checks no path and forwards it as it came.
func (p *Proxy) normalizeRequestPath(r *http.Request, route *plan.Route) (string, bool) {
	if len(route.Matches) == 0 {
		return "", true
	}
	// RawPath is the path as it came whenever it differs from the
	// default encoding of Path; otherwise that encoding is what came.
	raw := r.URL.RawPath
	if raw == "" {
		raw = r.URL.EscapedPath()
	}
	np, err := normalizePath(raw)
	if err != nil {
		return err.Error(), false
	}
	r.URL.Path, r.URL.RawPath = np, ""
	return "", true
}

// overrideHeaders are request headers with which some frameworks,
// gateways and rewrite modules take the method or the path from the
// request's headers instead of its request line (method override,
// IIS/Symfony URL rewrites, nginx auth_request and Envoy originals,
// forwarded prefixes and hosts). The route's matches checked the request
// line, so on intercepted routes these never reach the upstream. Names
// compare case-insensitively with "_" read as "-", as CGI and PHP read
// them. A method override in the query or a form field (Rails and
// Laravel "_method") is not a header and is not removed.
var overrideHeaders = map[string]bool{
	"x-http-method-override": true,
	"x-http-method":          true,
	"x-method-override":      true,
	"x-original-method":      true,
	"x-forwarded-method":     true,
	"x-original-url":         true,
	"x-original-uri":         true,
	"x-rewrite-url":          true,
	"x-override-url":         true,
	"x-envoy-original-path":  true,
	"x-forwarded-uri":        true,
	"x-forwarded-path":       true,
	"x-forwarded-prefix":     true,
	"x-forwarded-host":       true,
	"x-forwarded-server":     true,
	"x-host":                 true,
	"x-http-host-override":   true,
	"forwarded":              true,
}

// stripOverrides removes every override header from h.
func stripOverrides(h http.Header) {
	for k := range h {
		if overrideHeaders[strings.ReplaceAll(strings.ToLower(k), "_", "-")] {
			delete(h, k)
		}
	}
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
