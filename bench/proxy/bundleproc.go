package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/bottleplan/bottleplan/bundle"
	"github.com/bottleplan/bottleplan/plan"
)

// The bundle's secrets: secretCount names, each with a throwaway
// 46-character value that no request carries, so DLP scans every request
// for all of them (in every form it knows) and finds nothing. The first
// is the route's token, injected as a Bearer Authorization header.
const secretCount = 8

func secretName(i int) string { return fmt.Sprintf("BENCH_TOKEN_%d", i+1) }

func secretValue(i int) string {
	sum := sha256.Sum256([]byte(secretName(i)))
	return "bench_" + hex.EncodeToString(sum[:20])
}

// benchRoute is the one route: intercepted, with token injection, a
// path/method match and dlp "block", the checks a compiled plan puts on
// an API route.
func benchRoute(port int) plan.Route {
	return plan.Route{
		Host:  routeHost,
		Ports: []int{port},
		Auth:  &plan.RouteAuth{Scheme: "Bearer", TokenRef: secretName(0)},
		Matches: []plan.Match{{
			Paths:   []plan.PathMatch{{Type: "prefix", Value: "/v1/"}},
			Methods: []string{http.MethodGet, http.MethodPost},
		}},
		DLP:       "block",
		Intercept: true,
	}
}

// newBundle builds the bundle as `bottleplan-bundle serve` does
// (bundle.New: its proxy, recorder, timeouts and connection cap), for
// one instance whose only route is benchRoute, with secrets secrets (at
// least 1: the route's token) and the proxy listening on 127.0.0.1. Its
// upstream dialer sends the route's host:port to upstreamAddr and
// refuses everything else; upstream TLS is verified against the
// upstream's CA. The instance CA it makes is written to
// work/bundle-ca.pem for the clients. Decisions go to log.
func newBundle(work, upstreamAddr string, secrets int, log io.Writer) (*bundle.Bundle, error) {
	_, portStr, err := net.SplitHostPort(upstreamAddr)
	if err != nil {
		return nil, fmt.Errorf("-upstream: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("-upstream: %w", err)
	}
	certPEM, keyPEM, err := bundle.GenerateCA("bench bundle CA", time.Now(), 24*time.Hour)
	if err != nil {
		return nil, err
	}
	ca, err := bundle.LoadCA(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(work, bundleCAFile), certPEM, 0o600); err != nil {
		return nil, err
	}
	roots, err := pool(filepath.Join(work, upstreamCAFile))
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	var names []string
	for i := range max(secrets, 1) {
		env[secretName(i)] = secretValue(i)
		names = append(names, secretName(i))
	}
	target := net.JoinHostPort(routeHost, portStr)
	var d net.Dialer
	inst := plan.Instance{Slug: "bench", Bundle: plan.Bundle{
		Proxy:           plan.Proxy{Listen: "127.0.0.1:0", Routes: []plan.Route{benchRoute(port)}},
		SecretsFromHost: names,
	}}
	return bundle.New(bundle.Options{
		Instance: inst,
		CA:       ca,
		Getenv:   func(k string) string { return env[k] },
		Log:      log,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != target {
				return nil, fmt.Errorf("bench dialer: %s is not the route", addr)
			}
			return d.DialContext(ctx, network, upstreamAddr)
		},
		RootCAs: roots,
	})
}

// newBundleProxy is newBundle's egress proxy alone, for the in-process
// go test benchmark.
func newBundleProxy(work, upstreamAddr string, secrets int, log io.Writer) (http.Handler, error) {
	b, err := newBundle(work, upstreamAddr, secrets, log)
	if err != nil {
		return nil, err
	}
	return b.Proxy, nil
}

// serveBundle serves the bundle (newBundle, with secretCount secrets)
// on 127.0.0.1 until stdin closes, through bundle.Bundle.Serve, so the
// servers' timeouts and connection caps are the production ones. Decisions are
// written to /dev/null: the JSON encoding and the write are paid,
// nothing is kept.
func serveBundle(work, upstreamAddr, cpuprofile string) error {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	b, err := newBundle(work, upstreamAddr, secretCount, devnull)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- b.Serve(ctx, func(_, addr string) { addrc <- addr })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		return err
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("ready %s\n", addr)
	io.Copy(io.Discard, os.Stdin)
	return nil
}
