package bundle

import (
	"context"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// Regression: the upstream transport kept Go's default of 2 idle
// connections per host, so concurrent keep-alive clients through one
// route made most of their requests on a new upstream connection (a new
// TLS handshake each): 324 of 640 requests here. Dials racing an idle
// connection's return still add a few, hence the slack.
func TestUpstreamConnectionsAreReusedByConcurrentClients(t *testing.T) {
	upCA := newTestCA(t, "upstream test CA")
	instCA := newTestCA(t, "instance test CA")
	up := newUpstream(t, upCA, nil)
	var dials atomic.Int64
	dial := mapDial(map[string]string{"open.example.test:443": up.addr()})
	b, err := New(Options{
		Instance: testInstance(), CA: instCA.ca, Getenv: func(string) string { return "" },
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dial(ctx, network, addr)
		},
		RootCAs: upCA.pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	px := httptest.NewServer(b.Proxy)
	defer px.Close()
	pu, _ := url.Parse(px.URL)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(instCA.pem)

	const clients, each = 16, 40
	var wg sync.WaitGroup
	for range clients {
		tr := &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: tlsConfigWithRoots(roots)}
		defer tr.CloseIdleConnections()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: tr}
			for range each {
				resp, err := c.Get("https://open.example.test/x")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	n := dials.Load()
	t.Logf("%d requests from %d keep-alive clients opened %d upstream connections", clients*each, clients, n)
	if n > 4*clients {
		t.Fatalf("%d upstream connections for %d concurrent clients: idle connections are not kept", n, clients)
	}
}
