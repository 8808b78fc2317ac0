package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
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

// newBundleProxy builds the bundle's egress proxy with secrets secrets
// (at least 1: the route's token). Its upstream dialer sends the route's
// host:port to upstreamAddr and refuses everything else; upstream TLS is
// verified against the upstream's CA. The instance CA it makes is
// written to work/bundle-ca.pem for the clients. Decisions go to log.
func newBundleProxy(work, upstreamAddr string, secrets int, log io.Writer) (http.Handler, error) {
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
	return bundle.NewProxy(bundle.ProxyOptions{
		Routes:      []plan.Route{benchRoute(port)},
		CA:          ca,
		Getenv:      func(k string) string { return env[k] },
		SecretNames: names,
		Recorder:    bundle.NewRecorder(log, "bench", nil),
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != target {
				return nil, fmt.Errorf("bench dialer: %s is not the route", addr)
			}
			return d.DialContext(ctx, network, upstreamAddr)
		},
		RootCAs: roots,
	})
}

// serveBundle runs the bundle's egress proxy (newBundleProxy, with
// secretCount secrets) on 127.0.0.1 until stdin closes. Decisions are
// written to /dev/null: the JSON encoding and the write are paid,
// nothing is kept.
func serveBundle(work, upstreamAddr, cpuprofile string) error {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	px, err := newBundleProxy(work, upstreamAddr, secretCount, devnull)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// The outer server as bundle.Bundle.Serve sets it up.
	srv := &http.Server{
		Handler:           px,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go srv.Serve(ln)
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
	fmt.Printf("ready %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	return nil
}
