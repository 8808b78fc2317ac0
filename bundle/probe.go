package bundle

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Probe kinds.
const (
	// ProbeTCP connects to Addr.
	ProbeTCP = "tcp"
	// ProbeHTTP sends GET URL, directly or through Proxy.
	ProbeHTTP = "http"
	// ProbeConnect sends "CONNECT Target" to the proxy at Proxy and
	// reports the proxy's answer (no TLS inside).
	ProbeConnect = "connect"
	// ProbeDNS resolves Name, with the system resolver or Server.
	ProbeDNS = "dns"
	// ProbeRoutes reads the container's IPv4 routing table
	// (/proc/net/route) and reports it in Routes. It sends no packet.
	ProbeRoutes = "routes"
)

// ProbeTarget is one thing `bottleplan bundle probe` tries from inside a
// container. The probe runner reports facts; `verify` decides what they
// mean.
type ProbeTarget struct {
	// Name labels the probe in the results.
	Name string `json:"name"`
	// Kind is one of the Probe constants.
	Kind string `json:"kind"`
	// Addr is "host:port" (tcp).
	Addr string `json:"addr,omitempty"`
	// URL is what http fetches.
	URL string `json:"url,omitempty"`
	// Proxy is the proxy URL (http, optional) or "host:port" (connect).
	Proxy string `json:"proxy,omitempty"`
	// Target is "host:port" for connect.
	Target string `json:"target,omitempty"`
	// Host is the name to resolve (dns).
	Host string `json:"host,omitempty"`
	// Server is "ip:port" of the DNS server to ask (dns, optional).
	Server string `json:"server,omitempty"`
	// TimeoutMS bounds the probe; 0 means the runner's default.
	TimeoutMS int `json:"timeout_ms,omitempty"`
}

// ProbeResult is what one probe saw.
type ProbeResult struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Reached is true when the tcp connection opened, the http or
	// connect request got any HTTP answer, the dns name resolved, or the
	// routing table was read (routes; an empty table is still read).
	Reached bool `json:"reached"`
	// Status is the HTTP status (http, connect).
	Status int `json:"status,omitempty"`
	// Body is the start of the answer's body (at most 512 bytes).
	Body string `json:"body,omitempty"`
	// Addrs are the resolved addresses (dns).
	Addrs []string `json:"addrs,omitempty"`
	// Routes is the IPv4 routing table (routes), in the kernel's order.
	Routes []ProbeRoute `json:"routes,omitempty"`
	// Error says why the target was not reached.
	Error string `json:"error,omitempty"`
	// ElapsedMS is how long the probe took.
	ElapsedMS int64 `json:"elapsed_ms"`
}

// maxProbeBody bounds the body kept in a result.
const maxProbeBody = 512

// Prober runs probes. The zero value is not usable; use NewProber.
type Prober struct {
	// Timeout is the default per-probe timeout.
	Timeout time.Duration
	// RootCAs verifies https probes; nil means the system pool.
	RootCAs *x509.CertPool
	// RouteFile is the routing table the routes probe reads; "" means
	// /proc/net/route. Tests point it at a fixture.
	RouteFile string
}

// NewProber returns a prober with timeout as its default.
func NewProber(timeout time.Duration, roots *x509.CertPool) *Prober {
	return &Prober{Timeout: timeout, RootCAs: roots}
}

// Run runs every target concurrently and returns the results in target
// order. It never fails as a whole: a probe that cannot run reports why.
func (p *Prober) Run(ctx context.Context, targets []ProbeTarget) []ProbeResult {
	out := make([]ProbeResult, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = p.one(ctx, t)
		}()
	}
	wg.Wait()
	return out
}

func (p *Prober) one(ctx context.Context, t ProbeTarget) ProbeResult {
	timeout := p.Timeout
	if t.TimeoutMS > 0 {
		timeout = time.Duration(t.TimeoutMS) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	r := ProbeResult{Name: t.Name, Kind: t.Kind}
	var err error
	switch t.Kind {
	case ProbeTCP:
		err = probeTCP(ctx, t.Addr)
	case ProbeHTTP:
		err = p.probeHTTP(ctx, t, &r)
	case ProbeConnect:
		err = probeConnect(ctx, t, &r)
	case ProbeDNS:
		r.Addrs, err = probeDNS(ctx, t)
	case ProbeRoutes:
		r.Routes, err = p.probeRoutes()
	default:
		err = fmt.Errorf("unknown probe kind %q (want tcp, http, connect, dns or routes)", t.Kind)
	}
	r.ElapsedMS = time.Since(start).Milliseconds()
	if err != nil {
		r.Error = err.Error()
	} else {
		r.Reached = true
	}
	return r
}

func probeTCP(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

func (p *Prober) probeHTTP(ctx context.Context, t ProbeTarget, r *ProbeResult) error {
	tr := &http.Transport{
		Proxy:             nil,
		TLSClientConfig:   &tls.Config{RootCAs: p.RootCAs},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	if t.Proxy != "" {
		pu, err := url.Parse(t.Proxy)
		if err != nil {
			return fmt.Errorf("proxy URL: %w", err)
		}
		tr.Proxy = http.ProxyURL(pu)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	r.Status = resp.StatusCode
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
	r.Body = string(b)
	return nil
}

func probeConnect(ctx context.Context, t ProbeTarget, r *ProbeResult) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", t.Proxy)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", t.Target, t.Target); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	r.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
		r.Body = string(b)
	}
	return nil
}

func probeDNS(ctx context.Context, t ProbeTarget) ([]string, error) {
	if t.Host == "" {
		return nil, errors.New("dns probe needs a host")
	}
	res := &net.Resolver{PreferGo: true}
	if t.Server != "" {
		res.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, t.Server)
		}
	}
	addrs, err := res.LookupHost(ctx, t.Host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s resolved to no address", t.Host)
	}
	return addrs, nil
}
