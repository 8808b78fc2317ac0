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

	"github.com/bottleplan/bottleplan/bundle/probewire"
)

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
func (p *Prober) Run(ctx context.Context, targets []probewire.Target) []probewire.Result {
	out := make([]probewire.Result, len(targets))
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

func (p *Prober) one(ctx context.Context, t probewire.Target) probewire.Result {
	timeout := p.Timeout
	if t.TimeoutMS > 0 {
		timeout = time.Duration(t.TimeoutMS) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	r := probewire.Result{Name: t.Name, Kind: t.Kind}
	var err error
	switch t.Kind {
	case probewire.TCP:
		err = probeTCP(ctx, t.Addr)
	case probewire.HTTP:
		err = p.probeHTTP(ctx, t, &r)
	case probewire.Connect:
		err = probeConnect(ctx, t, &r)
	case probewire.DNS:
		r.Addrs, err = probeDNS(ctx, t)
	case probewire.Routes:
		r.Routes, err = p.probeRoutes()
	case probewire.RawSocket:
		r.Errno, err = probeRawSocket(t.Socket)
	default:
		err = fmt.Errorf("unknown probe kind %q (want tcp, http, connect, dns, routes or raw-socket)", t.Kind)
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

func (p *Prober) probeHTTP(ctx context.Context, t probewire.Target, r *probewire.Result) error {
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

func probeConnect(ctx context.Context, t probewire.Target, r *probewire.Result) error {
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

func probeDNS(ctx context.Context, t probewire.Target) ([]string, error) {
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
