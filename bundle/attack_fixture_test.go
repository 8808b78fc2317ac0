package bundle

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

// The fixture the attack tests share: a bundle proxy with its own routes
// in front of raw loopback upstreams that record every byte they get.

// attackRoutes are the routes the attack tests run against.
func attackRoutes() []plan.Route {
	socket := []plan.Match{{Paths: []plan.PathMatch{{Type: "prefix", Value: "/socket/"}}, Methods: []string{"GET"}}}
	return []plan.Route{
		{Host: "ws.example.test", Ports: []int{443, 80}, Intercept: true, DLP: DLPBlock, Websocket: true, Matches: socket},
		{Host: "nows.example.test", Ports: []int{443}, Intercept: true, DLP: DLPBlock, Matches: socket},
		{Host: "open.example.test", Ports: []int{443, 80}, Intercept: true, DLP: DLPBlock},
		{Host: "plain.example.test", Ports: []int{80}, DLP: DLPBlock},
		{Host: "api.example.test", Ports: []int{443}, Intercept: true, DLP: DLPBlock,
			Matches: []plan.Match{
				{Paths: []plan.PathMatch{{Type: "prefix", Value: "/repos/acme"}}, Methods: []string{"GET"}},
				{Paths: []plan.PathMatch{{Type: "prefix", Value: "/files/"}}, Methods: []string{"GET"}},
				{Paths: []plan.PathMatch{{Type: "exact", Value: "/user"}}, Methods: []string{"GET"}},
			}},
	}
}

// attackFixture is a bundle proxy in front of one raw upstream that
// answers for every route host, over TLS on 443 and plain on 80.
type attackFixture struct {
	proxy  *httptest.Server
	tlsUp  *rawUpstream
	httpUp *rawUpstream
	roots  *x509.CertPool
	log    *syncBuffer
}

func newAttackFixture(t *testing.T) *attackFixture {
	t.Helper()
	upCA := newTestCA(t, "upstream test CA")
	instCA := newTestCA(t, "instance test CA")
	f := &attackFixture{log: &syncBuffer{}, tlsUp: newRawUpstream(t, upCA), httpUp: newRawUpstream(t, nil)}
	dialMap := map[string]string{}
	for _, r := range attackRoutes() {
		dialMap[r.Host+":443"] = f.tlsUp.ln.Addr().String()
		dialMap[r.Host+":80"] = f.httpUp.ln.Addr().String()
	}
	env := map[string]string{"API_TOKEN": canary}
	inst := plan.Instance{Slug: "t1", Bundle: plan.Bundle{
		Proxy:           plan.Proxy{Listen: "127.0.0.1:0", Routes: attackRoutes()},
		SecretsFromHost: []string{"API_TOKEN"},
	}}
	b, err := New(Options{Instance: inst, CA: instCA.ca, Getenv: func(k string) string { return env[k] },
		Log: f.log, Dial: mapDial(dialMap), RootCAs: upCA.pool})
	if err != nil {
		t.Fatal(err)
	}
	f.proxy = httptest.NewServer(b.Proxy)
	t.Cleanup(f.proxy.Close)
	f.roots = instCA.pool
	t.Cleanup(func() { checkLogClean(t, f.log.String()) })
	return f
}

// agentConn is the agent's side of one connection through the proxy:
// inside a CONNECT tunnel (TLS with the instance CA) or straight to the
// proxy for absolute-form requests.
type agentConn struct {
	net.Conn
	br *bufio.Reader
}

// tunnel opens CONNECT host:443 and the TLS session inside it.
func (f *attackFixture) tunnel(t *testing.T, host string) *agentConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(f.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n", host, host)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT %s: %v %v", host, resp, err)
	}
	tc := tls.Client(&bufConn{Conn: c, r: br}, &tls.Config{ServerName: host, RootCAs: f.roots, NextProtos: []string{"http/1.1"}})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return &agentConn{Conn: tc, br: bufio.NewReader(tc)}
}

// plain opens a connection to the proxy itself.
func (f *attackFixture) plain(t *testing.T) *agentConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(f.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &agentConn{Conn: c, br: bufio.NewReader(c)}
}

// roundTrip writes a raw request and reads the answer's head; the body
// of a non-101 answer is read whole and returned.
func (a *agentConn) roundTrip(t *testing.T, raw string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(a, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(a.br, nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// testFrame is one frame read by the test's own decoder.
type testFrame struct {
	fin     bool
	opcode  byte
	payload []byte
}

// readTestFrame decodes one frame, unmasking it when it is masked. It
// is the test's own reader, independent of the bundle's.
func readTestFrame(r io.Reader) (testFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return testFrame{}, err
	}
	f := testFrame{fin: h[0]&0x80 != 0, opcode: h[0] & 0x0f}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l uint16
		if err := binary.Read(r, binary.BigEndian, &l); err != nil {
			return f, err
		}
		n = uint64(l)
	case 127:
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			return f, err
		}
	}
	if n > 1<<24 {
		return f, fmt.Errorf("frame of %d bytes", n)
	}
	var key [4]byte
	if h[1]&0x80 != 0 {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return f, err
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return f, err
	}
	for i := range f.payload {
		f.payload[i] ^= key[i%4]
	}
	return f, nil
}

// rawUpstream is a loopback server that answers any upgrade with 101
// and records what it was sent: each request head, the raw bytes after
// a 101, and the WebSocket messages those bytes decode to (each one is
// echoed back).
type rawUpstream struct {
	ln net.Listener
	wg sync.WaitGroup

	mu       sync.Mutex
	requests []*http.Request
	raw      bytes.Buffer
	messages []string
}

func newRawUpstream(t *testing.T, ca *testCA) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if ca != nil {
		ln = tls.NewListener(ln, &tls.Config{GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return ca.ca.Leaf(hi.ServerName)
		}})
	}
	u := &rawUpstream{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.wg.Add(1)
			go u.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return u
}

func (u *rawUpstream) serve(c net.Conn) {
	defer u.wg.Done()
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	{
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		u.mu.Lock()
		u.requests = append(u.requests, req)
		u.mu.Unlock()
		token := req.Header.Get("Upgrade")
		if token == "" {
			// One request per connection, so that the connection ends
			// when the answer is sent and seen need not wait for the
			// bundle's idle pool.
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(req.Method)+len(body)+4, req.Method+" ok "+string(body))
			return
		}
		accept := ""
		if k := req.Header.Get("Sec-WebSocket-Key"); k != "" {
			sum := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			accept = "Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n"
		}
		fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n%s\r\n", token, accept)
		if !strings.EqualFold(token, "websocket") {
			b, _ := io.ReadAll(br)
			u.mu.Lock()
			u.raw.Write(b)
			u.mu.Unlock()
			return
		}
		// The upstream speaks first, to show that direction passes.
		c.Write([]byte{0x81, 5, 'h', 'e', 'l', 'l', 'o'})
		var msg []byte
		tee := io.TeeReader(br, rawWriter{u})
		for {
			f, err := readTestFrame(tee)
			if err != nil {
				io.Copy(rawWriter{u}, br)
				return
			}
			switch {
			case f.opcode >= 8:
				u.record("control:" + string(f.payload))
				if f.opcode == 8 {
					c.Write([]byte{0x88, 0})
				}
				continue
			}
			msg = append(msg, f.payload...)
			if f.fin {
				u.record(string(msg))
				echo := append([]byte{0x81, byte(len(msg))}, msg...)
				if len(msg) < 126 {
					c.Write(echo)
				}
				msg = nil
			}
		}
	}
}

type rawWriter struct{ u *rawUpstream }

func (w rawWriter) Write(b []byte) (int, error) {
	w.u.mu.Lock()
	defer w.u.mu.Unlock()
	return w.u.raw.Write(b)
}

func (u *rawUpstream) record(m string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.messages = append(u.messages, m)
}

// seen waits for the upstream's connections to end (the agent side was
// closed) and returns what it saw: request heads, raw bytes after a 101
// and decoded messages, all as one text.
func (u *rawUpstream) seen(t *testing.T) (reqs []*http.Request, text string) {
	t.Helper()
	done := make(chan struct{})
	go func() { u.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("upstream connection never ended")
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	var b strings.Builder
	for _, r := range u.requests {
		fmt.Fprintf(&b, "%s %s %v\n", r.Method, r.URL, r.Header)
	}
	b.Write(u.raw.Bytes())
	b.WriteString("\n" + strings.Join(u.messages, "\n"))
	return append([]*http.Request(nil), u.requests...), b.String()
}
