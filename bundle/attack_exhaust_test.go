package bundle

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

// The agent tries to exhaust the host's disk, memory or connections
// through the bundle. Each test drives one path on real loopback
// connections; timeouts are injected short so nothing sleeps for
// minutes, and the waits below are bounds on a wrong answer, not timing
// goals.

// servedFixture is a whole bundle (proxy, git gate, supervise) served by
// Bundle.Serve, as the bundle container runs it.
type servedFixture struct {
	b       *Bundle
	addrs   map[string]string
	log     *syncBuffer
	tlsUp   *upstream
	plainUp *upstream
	roots   *tls.Config // trusts the instance CA
}

func newServedFixture(t *testing.T, to Timeouts) *servedFixture {
	t.Helper()
	f := &servedFixture{log: &syncBuffer{}, addrs: map[string]string{}}
	upCA := newTestCA(t, "upstream test CA")
	instCA := newTestCA(t, "instance test CA")
	f.tlsUp = newUpstream(t, upCA, nil)
	f.plainUp = newUpstream(t, nil, nil)
	inst := testInstance()
	inst.Bundle.GitGate = &plan.GitGate{Listen: "127.0.0.1:0", Repos: []plan.Repo{
		{Name: "app", Upstream: "https://git.example.test/a/app.git", Access: "read-write", KeyProvider: "token", TokenRef: "API_TOKEN"},
	}}
	dialMap := map[string]string{"plain.example.test:80": f.plainUp.addr(), "open.example.test:80": f.plainUp.addr(),
		"git.example.test:443": f.tlsUp.addr()}
	for _, h := range []string{"api", "open", "held", "a.files"} {
		dialMap[h+".example.test:443"] = f.tlsUp.addr()
	}
	env := map[string]string{"API_TOKEN": canary}
	b, err := New(Options{
		Instance: inst,
		CA:       instCA.ca,
		Getenv:   func(k string) string { return env[k] },
		Log:      f.log,
		Dial:     mapDial(dialMap),
		RootCAs:  upCA.pool,
		Timeouts: to,
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Proxy.holds.timeout = fixtureHoldTimeout
	f.b = b
	f.roots = &tls.Config{RootCAs: instCA.pool}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- b.Serve(ctx, func(name, addr string) {
			f.addrs[name] = addr
			if len(f.addrs) == 3 {
				close(ready)
			}
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Serve returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("daemons did not start")
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return f
}

// connect opens a CONNECT tunnel to target through the proxy; with tls
// set it also does the agent's TLS handshake with the instance CA.
func (f *servedFixture) connect(t *testing.T, target string, withTLS bool) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", f.addrs["proxy"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT %s: %v %v", target, resp, err)
	}
	if br.Buffered() > 0 {
		t.Fatal("bytes after the CONNECT answer")
	}
	if !withTLS {
		return c
	}
	cfg := f.roots.Clone()
	cfg.ServerName, _, _ = net.SplitHostPort(target)
	tc := tls.Client(c, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc
}

// closedWithin reports whether the peer closes c (or answers and then
// closes) within d, reading and discarding what comes.
func closedWithin(c net.Conn, d time.Duration) error {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("connection still open after %v", d)
	}
	return nil
}

// wait is how long a test waits for the bundle to close a connection it
// must close: far above the injected timeouts, far below the defaults.
const wait = 10 * time.Second

func TestAttackExhaustHugePathInLog(t *testing.T) {
	f := newProxyFixture(t)
	long := "/x/" + strings.Repeat("a", 200<<10)
	f.do(t, "GET", "https://api.example.test"+long, "")
	f.do(t, "GET", "http://evil.example.test"+long, "")
	log := f.log.String()
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) < 2 {
		t.Fatalf("want two decisions, got:\n%.2000s", log)
	}
	for _, l := range lines {
		if len(l) > 8*maxDecisionField {
			t.Errorf("decision line of %d bytes (fields capped at %d): %.300s", len(l), maxDecisionField, l)
		}
		if strings.Contains(l, "/x/aaaa") && !strings.Contains(l, "…[+") {
			t.Errorf("cut field not marked: %.300s", l)
		}
	}
}

func TestAttackExhaustSuperviseFlushedByDenials(t *testing.T) {
	f := newProxyFixture(t)
	if code, _ := f.do(t, "GET", "https://held.example.test/elsewhere", ""); code != 403 {
		t.Fatalf("hold: got %d", code)
	}
	for i := 0; i < 1200; i++ {
		f.do(t, "GET", fmt.Sprintf("http://evil%d.example.test/", i), "")
	}
	resp, err := http.Get(f.sup.URL + "/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var lists map[string][]Decision
	if err := json.Unmarshal(body, &lists); err != nil {
		t.Fatalf("%v: %.500s", err, body)
	}
	held := 0
	for _, ds := range lists {
		for _, d := range ds {
			if d.Verdict == VerdictHold && d.Host == "held.example.test" {
				held++
			}
		}
	}
	if held != 1 {
		t.Fatalf("the held request is listed %d times after 1200 denials, want once (lists %v)", held, keys(lists))
	}
	if n := len(lists["denied"]); n == 0 || n > maxDenied {
		t.Fatalf("denied list holds %d entries, want 1..%d", n, maxDenied)
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestAttackExhaustDenialFlood measures the bytes of log 100k identical
// denials write (go test ./bundle -run DenialFlood -v prints it).
func TestAttackExhaustDenialFlood(t *testing.T) {
	log := &syncBuffer{}
	b, err := New(Options{Instance: testInstance(), CA: newTestCA(t, "ca").ca, Getenv: func(string) string { return "" }, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100_000
	for i := 0; i < n; i++ {
		b.Recorder.Record(Decision{Daemon: "proxy", Verdict: VerdictDeny, Host: "evil.example.test", Port: 80,
			Method: "GET", Path: fmt.Sprintf("/%d", i), Reason: "host evil.example.test is not in the plan's egress routes"})
	}
	b.Recorder.Flush()
	out := log.String()
	t.Logf("%d identical denials wrote %d bytes of log", n, len(out))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) > 2 {
		t.Fatalf("%d identical denials wrote %d lines (%d bytes), want a first line and one summary", n, len(lines), len(out))
	}
	var first, sum Decision
	json.Unmarshal([]byte(lines[0]), &first)
	json.Unmarshal([]byte(lines[1]), &sum)
	if first.Count > 1 || sum.Count != n-1 || sum.First.IsZero() || sum.Last.Before(sum.First) {
		t.Fatalf("counts do not add up to %d:\n%s", n, out)
	}
}

func TestAttackExhaustIdleKeepAlive(t *testing.T) {
	f := newServedFixture(t, Timeouts{Idle: 200 * time.Millisecond})
	tests := map[string]struct {
		conn func(t *testing.T) net.Conn
		host string
	}{
		"proxy":     {conn: func(t *testing.T) net.Conn { return dialT(t, f.addrs["proxy"]) }, host: "proxy"},
		"git-gate":  {conn: func(t *testing.T) net.Conn { return dialT(t, f.addrs["git-gate"]) }, host: "gate"},
		"supervise": {conn: func(t *testing.T) net.Conn { return dialT(t, f.addrs["supervise"]) }, host: "sup"},
		"intercepted tunnel": {conn: func(t *testing.T) net.Conn { return f.connect(t, "open.example.test:443", true) },
			host: "open.example.test"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := tc.conn(t)
			fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", tc.host)
			c.SetReadDeadline(time.Now().Add(wait))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Close {
				t.Fatal("the answer closed the connection; nothing to keep alive")
			}
			if err := closedWithin(c, wait); err != nil {
				t.Fatalf("idle keep-alive: %v", err)
			}
		})
	}
}

func dialT(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestAttackExhaustTrickledBody(t *testing.T) {
	f := newServedFixture(t, Timeouts{BodyGrace: 300 * time.Millisecond, MinBodyRate: 1000})
	tests := map[string]struct {
		conn func(t *testing.T) net.Conn
		head string
	}{
		"plain proxy": {conn: func(t *testing.T) net.Conn { return dialT(t, f.addrs["proxy"]) },
			head: "POST http://plain.example.test/ HTTP/1.1\r\nHost: plain.example.test\r\n"},
		"git gate": {conn: func(t *testing.T) net.Conn { return dialT(t, f.addrs["git-gate"]) },
			head: "POST /app.git/git-receive-pack HTTP/1.1\r\nHost: gate\r\n"},
		"intercepted": {conn: func(t *testing.T) net.Conn { return f.connect(t, "open.example.test:443", true) },
			head: "POST /upload HTTP/1.1\r\nHost: open.example.test\r\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := tc.conn(t)
			fmt.Fprintf(c, "%sContent-Length: 100000\r\n\r\n", tc.head)
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
					}
					if _, err := c.Write([]byte("x")); err != nil {
						return
					}
				}
			}()
			if err := closedWithin(c, wait); err != nil {
				t.Fatalf("trickled body (1 byte per 50ms): %v", err)
			}
		})
	}
}

func TestAttackExhaustIdleConnectTunnel(t *testing.T) {
	f := newServedFixture(t, Timeouts{TunnelIdle: 300 * time.Millisecond})
	tests := map[string]struct {
		target  string
		withTLS bool
	}{
		"blind":       {"a.files.example.test:443", false},
		"intercepted": {"open.example.test:443", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := f.connect(t, tc.target, tc.withTLS)
			if err := closedWithin(c, wait); err != nil {
				t.Fatalf("idle CONNECT tunnel: %v", err)
			}
		})
	}
}

// A tunnel that carries bytes, however slowly, one way only, is not idle.
func TestTunnelWithTrafficOneWayStaysOpen(t *testing.T) {
	idle := 300 * time.Millisecond
	f := newServedFixture(t, Timeouts{TunnelIdle: idle})
	c := f.connect(t, "open.example.test:443", true)
	// The agent sends a request header slowly: one header line every
	// idle/3, for three idle periods, then reads the answer.
	fmt.Fprintf(c, "GET /slow HTTP/1.1\r\nHost: open.example.test\r\n")
	for i := 0; i < 9; i++ {
		time.Sleep(idle / 3)
		fmt.Fprintf(c, "X-Pad-%d: y\r\n", i)
	}
	fmt.Fprintf(c, "\r\n")
	c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("tunnel cut while the agent was sending: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("got %d", resp.StatusCode)
	}
}

func TestAttackExhaustLeafCacheNeverEvicted(t *testing.T) {
	ca := newTestCA(t, "instance test CA").ca
	host := func(i int) string { return fmt.Sprintf("h%d.example.test", i) }
	first := map[string]*tls.Certificate{}
	for i := 0; i < maxLeafCerts; i++ {
		c, err := ca.Leaf(host(i))
		if err != nil {
			t.Fatal(err)
		}
		first[host(i)] = c
	}
	// h0 is used again, so h1 is now the least recently used.
	if c, _ := ca.Leaf(host(0)); c != first[host(0)] {
		t.Fatal("h0 re-minted while the cache had room")
	}
	if _, err := ca.Leaf(host(maxLeafCerts)); err != nil {
		t.Fatal(err)
	}
	if c, _ := ca.Leaf(host(0)); c != first[host(0)] {
		t.Fatal("the most recently used leaf was evicted")
	}
	if c, _ := ca.Leaf(host(1)); c == first[host(1)] {
		t.Fatalf("minting leaf %d kept all of them: the least recently used was not evicted", maxLeafCerts+1)
	}
}

func TestAttackExhaustStalledReader(t *testing.T) {
	f := newServedFixture(t, Timeouts{WriteStall: 200 * time.Millisecond})
	const size = 64 << 20
	f.plainUp.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		buf := make([]byte, 1<<20)
		for i := 0; i < size>>20; i++ {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	})
	c := dialT(t, f.addrs["proxy"])
	fmt.Fprintf(c, "GET http://open.example.test/big HTTP/1.1\r\nHost: open.example.test\r\n\r\n")
	// The agent stops reading, far longer than the injected stall.
	time.Sleep(2 * time.Second)
	c.SetReadDeadline(time.Now().Add(wait))
	n, err := io.Copy(io.Discard, c)
	if n >= size {
		t.Fatalf("the bundle kept waiting on an agent that stopped reading: all %d bytes came through", n)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %v (%d bytes read)", wait, n)
	}
}
