package bundle

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

// Proxy is the egress proxy: an HTTP forward proxy that also serves
// CONNECT. It is built on net/http and net/http/httputil rather than
// github.com/elazarl/goproxy: the bundle needs only a policy decision
// before any byte leaves, a blind splice for plain routes, and a TLS
// terminator feeding the same decision for intercepted ones, and with the
// standard library all three share one code path, one injectable dialer
// and one upstream transport, with no third-party code in the static
// binary that sits between the agent and the network.
type Proxy struct {
	policy    *Policy
	ca        *CA
	getenv    func(string) string
	secrets   *secretSet
	inspect   *inspectSlots
	wsBudget  *byteBudget
	rec       *Recorder
	dial      DialFunc
	transport *http.Transport
	supervise bool
	holds     *itemStore
	grants    grants
	errLog    *log.Logger
	// timeouts bound idle tunnels and slow requests (timeouts.go); its
	// zero value means the defaults.
	timeouts Timeouts
}

// ProxyOptions configure NewProxy.
type ProxyOptions struct {
	// Routes are the plan's routes (plan.Proxy.Routes).
	Routes []plan.Route
	// CA signs the leaf certificates of intercepted routes; required when
	// any route intercepts.
	CA *CA
	// Getenv reads the bundle's secrets (token_ref values).
	Getenv func(string) string
	// SecretNames are the names whose values DLP scans for
	// (plan.Bundle.SecretsFromHost).
	SecretNames []string
	// Recorder receives every decision.
	Recorder *Recorder
	// Dial opens upstream connections; nil means PublicDialer().
	Dial DialFunc
	// RootCAs verifies upstream TLS; nil means the system pool.
	RootCAs *x509.CertPool
	// Supervise is true when the bottle has the supervise endpoint; without
	// it dlp "supervise" acts as "block".
	Supervise bool
	// HoldTimeout is how long a held request waits for the operator;
	// zero means DefaultHoldTimeout.
	HoldTimeout time.Duration
	// secrets, when set (by New), is the secret set built from
	// SecretNames already, shared with the recorder and the git gate.
	secrets *secretSet
}

// NewProxy builds the proxy from its options.
func NewProxy(o ProxyOptions) (*Proxy, error) {
	pol, err := NewPolicy(o.Routes)
	if err != nil {
		return nil, err
	}
	for _, r := range pol.Routes() {
		if r.Intercept && o.CA == nil {
			return nil, fmt.Errorf("route %s intercepts TLS but no CA was given", r.Host)
		}
	}
	dial := o.Dial
	if dial == nil {
		dial = PublicDialer()
	}
	return &Proxy{
		policy:    pol,
		ca:        o.CA,
		getenv:    o.Getenv,
		secrets:   o.secrets.orNew(o.SecretNames, o.Getenv),
		inspect:   newInspectSlots(maxInspectBodies, inspectWait),
		wsBudget:  &byteBudget{max: maxWebSocketBuffered},
		rec:       o.Recorder,
		dial:      dial,
		transport: newTransport(dial, o.RootCAs),
		supervise: o.Supervise,
		holds:     newItemStore(o.HoldTimeout),
		errLog:    log.New(io.Discard, "", 0),
	}, nil
}

// newTransport is the upstream transport shared by the proxy and the git
// gate: never itself proxied, dialling only through dial.
func newTransport(dial DialFunc, roots *x509.CertPool) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          upstreamMaxIdleConns,
		MaxIdleConnsPerHost:   upstreamMaxIdlePerHost,
		MaxConnsPerHost:       upstreamMaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// ServeHTTP dispatches CONNECT, absolute-form proxy requests and the
// proxy's own /healthz.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		p.serveConnect(w, r)
	case r.URL.IsAbs():
		p.serveAbsolute(w, r)
	case r.URL.Path == "/healthz":
		io.WriteString(w, "ok\n")
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "blocked: this is a forward proxy; send absolute-form requests or CONNECT\n")
	}
}

// deny answers 403 "blocked: reason" and records the decision.
func (p *Proxy) deny(w http.ResponseWriter, d Decision, verdict, reason string) {
	d.Verdict, d.Reason = verdict, reason
	p.record(d)
	writeBlocked(w, reason)
}

// writeBlocked writes the 403 every denial answers with.
func writeBlocked(w http.ResponseWriter, reason string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusForbidden)
	io.WriteString(w, "blocked: "+reason+"\n")
}

// record logs d as the proxy's; the Recorder scrubs and caps it.
func (p *Proxy) record(d Decision) {
	d.Daemon = "proxy"
	p.rec.Record(d)
}

// admit records the normalized target in d and returns the route that
// allows host:port, or answers the denial (403 "blocked:") and reports
// false. Both request forms pass through it, so they cannot disagree on
// what the allowlist says.
func (p *Proxy) admit(w http.ResponseWriter, d *Decision, host string, port int) (*plan.Route, bool) {
	d.Host, d.Port = normalizeHost(host), port
	route, reason, ok := p.policy.Match(host, port)
	if !ok {
		// A runtime grant (grants.go) names one valid DNS name and
		// port; an IP or a malformed host never finds one.
		if route, ok = p.grants.route(normalizeHost(host), port); !ok {
			p.deny(w, *d, VerdictDeny, reason)
			return nil, false
		}
	}
	d.Route = route.Host
	// A wildcard route lets the agent choose a label; one that carries a
	// secret would go to the resolver, in the SNI and in the Host header
	// before any request is read, so the name itself is read by DLP,
	// on every route, and cannot be redacted.
	if found := p.secrets.scanBytes([]byte(d.Host)); len(found) > 0 {
		reason := "host name carries the value of secret " + strings.Join(found, ", ")
		if p.dlpAction(route) == DLPSupervise {
			p.deny(w, *d, VerdictHold, "held for supervision: "+reason)
		} else {
			p.deny(w, *d, VerdictDeny, reason)
		}
		return nil, false
	}
	return route, true
}

// serveConnect answers CONNECT: 403 when no route allows the target,
// otherwise a blind tunnel or, for intercepted routes, TLS terminated with
// the instance CA.
func (p *Proxy) serveConnect(w http.ResponseWriter, r *http.Request) {
	d := Decision{Method: http.MethodConnect, Host: r.Host}
	host, port, err := splitHostPort(r.Host, 443)
	if err != nil {
		p.deny(w, d, VerdictDeny, fmt.Sprintf("CONNECT target %q is not host:port", r.Host))
		return
	}
	route, ok := p.admit(w, &d, host, port)
	if !ok {
		return
	}
	host = normalizeHost(host)
	target := net.JoinHostPort(host, strconv.Itoa(port))

	var up net.Conn
	if !route.Intercept {
		up, err = p.dial(r.Context(), "tcp", target)
		if err != nil {
			d.Verdict, d.Reason = VerdictError, "upstream: "+err.Error()
			p.record(d)
			http.Error(w, "bottleplan proxy: cannot reach "+target, http.StatusBadGateway)
			return
		}
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		if up != nil {
			up.Close()
		}
		http.Error(w, "bottleplan proxy: cannot hijack connection", http.StatusInternalServerError)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		if up != nil {
			up.Close()
		}
		return
	}
	// Hijacked, the tunnel is out of the server's timeouts: it is closed
	// once idle both ways (timeouts.go).
	tun := newIdleTunnel(p.timeouts.withDefaults().TunnelIdle)
	client := tun.conn(&bufConn{Conn: conn, r: brw.Reader})
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		conn.Close()
		if up != nil {
			up.Close()
		}
		return
	}
	d.Verdict = VerdictAllow
	if route.Intercept {
		d.Reason = "intercepted"
		p.record(d)
		p.intercept(client, tun, host, port, route)
		return
	}
	d.Reason = "tunnel"
	p.record(d)
	splice(client, tun.conn(up))
}

// serveAbsolute forwards an absolute-form request ("GET http://h/p").
func (p *Proxy) serveAbsolute(w http.ResponseWriter, r *http.Request) {
	d := Decision{Method: r.Method, Host: r.URL.Host, Path: r.URL.Path}
	defPort := 80
	switch r.URL.Scheme {
	case "http":
	case "https":
		defPort = 443
	default:
		p.deny(w, d, VerdictDeny, fmt.Sprintf("scheme %q is not proxied; use http or https", r.URL.Scheme))
		return
	}
	host, port, err := splitHostPort(r.URL.Host, defPort)
	if err != nil {
		p.deny(w, d, VerdictDeny, fmt.Sprintf("host %q is not host[:port]", r.URL.Host))
		return
	}
	route, ok := p.admit(w, &d, host, port)
	if !ok {
		return
	}
	if route.Intercept && route.Auth != nil && r.URL.Scheme != "https" {
		p.deny(w, d, VerdictDeny, fmt.Sprintf("route %s injects credentials only over https; use an https:// URL", route.Host))
		return
	}
	p.handleRouted(w, r, route, d)
}

// bufConn is a hijacked connection whose first bytes may already sit in
// the server's read buffer.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// CloseWrite half-closes the underlying connection when it can.
func (c *bufConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// splice copies both ways until both directions end.
func splice(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
	a.Close()
	b.Close()
}

// forward sends r (absolute URL) upstream, setting Authorization to authz
// when it is not "", and streams the answer back.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, authz string, d Decision) {
	rp := &httputil.ReverseProxy{
		Transport:     p.transport,
		FlushInterval: -1,
		ErrorLog:      p.errLog,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.Host = ""
			if authz != "" {
				pr.Out.Header.Set("Authorization", authz)
			}
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			if errors.Is(err, http.ErrAbortHandler) {
				return
			}
			d.Verdict, d.Reason = VerdictError, "upstream: "+err.Error()
			p.record(d)
			http.Error(w, "bottleplan proxy: upstream failed", http.StatusBadGateway)
		},
	}
	rp.ServeHTTP(w, r)
}
