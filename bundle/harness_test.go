package bundle

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Everything here runs on loopback: route host names are mapped onto
// local test servers by an injected DialFunc, and no name is ever
// resolved.

// syncBuffer is a bytes.Buffer safe for the recorder and the test to
// share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testCA is a CA made for one test, with its pool.
type testCA struct {
	ca   *CA
	pool *x509.CertPool
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	certPEM, keyPEM, err := GenerateCA(name, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		t.Fatal("bad CA PEM")
	}
	return &testCA{ca: ca, pool: pool, pem: certPEM}
}

// seenRequest is what an upstream test server saw.
type seenRequest struct {
	Host, Method, Path, RawQuery, Authorization, Body string
}

// upstream is a loopback server that answers for any host name, with a
// certificate for that name from its own CA when it speaks TLS.
type upstream struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []seenRequest
}

func newUpstream(t *testing.T, ca *testCA, handler http.Handler) *upstream {
	t.Helper()
	u := &upstream{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.got = append(u.got, seenRequest{r.Host, r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), string(body)})
		u.mu.Unlock()
		if handler != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			handler.ServeHTTP(w, r)
			return
		}
		fmt.Fprintf(w, "upstream %s %s", r.Method, r.URL.Path)
	})
	u.srv = httptest.NewUnstartedServer(h)
	u.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if ca != nil {
		u.srv.TLS = &tls.Config{GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return ca.ca.Leaf(hi.ServerName)
		}}
		u.srv.StartTLS()
	} else {
		u.srv.Start()
	}
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.got...)
}

func (u *upstream) addr() string { return u.srv.Listener.Addr().String() }

// mapDial returns a DialFunc sending "host:port" to the loopback address
// in m and refusing everything else, so a test can never reach out.
func mapDial(m map[string]string) DialFunc {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		to, ok := m[addr]
		if !ok {
			return nil, fmt.Errorf("test dialer: %s is not mapped", addr)
		}
		return d.DialContext(ctx, network, to)
	}
}

// rawConnect sends a CONNECT for target to the proxy at addr and returns
// the status and body of the answer.
func rawConnect(t *testing.T, proxyAddr, target string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func tlsConfigWithRoots(roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots}
}
