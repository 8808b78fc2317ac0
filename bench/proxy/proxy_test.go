package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
)

// BenchmarkBundlePOST64KiB sends 64 KiB POSTs, one at a time over one
// kept-alive tunnel, through the bundle's proxy (in process, loopback
// only) with 1, 8 and 32 secrets to scan for. Issue 11 wants DLP's cost
// independent of the number of secrets: the time per request should not
// grow with it. bench/proxy.sh measures throughput under concurrency;
// this isolates the scanner's share.
//
//	go test ./bench/proxy -run '^$' -bench BundlePOST64KiB -benchtime 2000x -count 3
func BenchmarkBundlePOST64KiB(b *testing.B) {
	for _, n := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			c, base := startBundle(b, n)
			w := workloads["post"]
			if err := do(c, base, w); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(postSize)
			for b.Loop() {
				if err := do(c, base, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// startBundle starts an upstream and a bundle proxy with secrets
// secrets in process and returns a client through the proxy and the
// route's base URL.
func startBundle(b *testing.B, secrets int) (*http.Client, string) {
	b.Helper()
	work := b.TempDir()
	if err := makeUpstreamCert(work); err != nil {
		b.Fatal(err)
	}
	up, err := upstreamServer(work, false)
	if err != nil {
		b.Fatal(err)
	}
	uln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go up.ServeTLS(uln, "", "")
	b.Cleanup(func() { up.Close() })
	px, err := newBundleProxy(work, uln.Addr().String(), secrets, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	psrv := &http.Server{Handler: px}
	go psrv.Serve(pln)
	b.Cleanup(func() { psrv.Close() })
	roots, err := pool(filepath.Join(work, bundleCAFile))
	if err != nil {
		b.Fatal(err)
	}
	tr := transport(target{mode: "bundle", proxy: &url.URL{Scheme: "http", Host: pln.Addr().String()}, roots: roots})
	b.Cleanup(tr.CloseIdleConnections)
	_, port, _ := net.SplitHostPort(uln.Addr().String())
	return &http.Client{Transport: tr}, "https://" + net.JoinHostPort(routeHost, port)
}
