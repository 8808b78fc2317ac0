package bundle

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/bottleplan/bottleplan/plan"
)

// The red team's attacks on the merged bundle: each is a way a
// prompt-injected agent got something past the checks of the other
// attack files.

// TestAttackDLPBytesAfterCompressedBody sends a "deflate" body whose
// compressed stream ends before the body does: the decoder stops at the
// stream's end, so the bytes after it were never read, yet they are
// sent, and an upstream that stores the body as it came (most APIs do
// not undo a request's Content-Encoding) keeps the secret in clear. The
// same holds for a gzip header's own fields (name, comment), which
// decoding skips.
func TestAttackDLPBytesAfterCompressedBody(t *testing.T) {
	tail := []byte(" token " + canary)
	const after = "request body has bytes after its deflate stream"
	tests := map[string]struct {
		body     []byte
		encoding string
		reason   string
	}{
		"zlib":         {append(zlibbed(t, []byte("hello")), tail...), "deflate", after},
		"raw deflate":  {append(rawDeflated(t, []byte("hello")), tail...), "deflate", after},
		"gzip comment": {gzipHeaderComment(t, canary, []byte("hello")), "gzip", leakReason},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			f.sendLeak(t, newReq(t, "POST", "https://open.example.test/upload", tc.body, "Content-Encoding", tc.encoding), tc.reason)
		})
	}
}

// gzipHeaderComment is b gzipped with comment in the gzip header.
func gzipHeaderComment(t *testing.T, comment string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Comment = comment
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestAttackDLPSecretInWildcardSubdomain names a host under a wildcard
// route after the secret ("<token>.wild.example.test"): the host was
// never read by DLP, so the token went to the resolver, in the SNI and
// in the Host header the upstream reads.
func TestAttackDLPSecretInWildcardSubdomain(t *testing.T) {
	const hostLeak = "host name carries the value of secret API_TOKEN"
	host := canary + ".wild.example.test"
	tests := map[string]struct {
		url     string // sent through the proxy with an http.Client
		connect string // or sent as a raw CONNECT
	}{
		"intercepted tunnel": {url: "https://" + host + "/x"},
		"absolute form":      {url: "http://" + host + "/x"},
		"upper case":         {url: "https://" + strings.ToUpper(canary) + ".wild.example.test/x"},
		"blind tunnel":       {connect: canary + ".blind.example.test:443"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			upCA := newTestCA(t, "upstream test CA")
			instCA := newTestCA(t, "instance test CA")
			tlsUp, plainUp := newUpstream(t, upCA, nil), newUpstream(t, nil, nil)
			var mu sync.Mutex
			var dialed []string
			dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
				mu.Lock()
				dialed = append(dialed, addr)
				mu.Unlock()
				to := tlsUp.addr()
				if strings.HasSuffix(addr, ":80") {
					to = plainUp.addr()
				}
				var d net.Dialer
				return d.DialContext(ctx, network, to)
			}
			log := &syncBuffer{}
			env := map[string]string{"API_TOKEN": canary}
			inst := plan.Instance{Slug: "t1", Bundle: plan.Bundle{
				Proxy: plan.Proxy{Listen: "127.0.0.1:0", Routes: []plan.Route{
					{Host: "*.wild.example.test", Ports: []int{443, 80}, Intercept: true, DLP: DLPBlock},
					{Host: "*.blind.example.test", Ports: []int{443}, DLP: DLPBlock},
				}},
				SecretsFromHost: []string{"API_TOKEN"},
			}}
			b, err := New(Options{Instance: inst, CA: instCA.ca, Getenv: func(k string) string { return env[k] },
				Log: log, Dial: dial, RootCAs: upCA.pool})
			if err != nil {
				t.Fatal(err)
			}
			proxy := httptest.NewServer(b.Proxy)
			t.Cleanup(proxy.Close)
			t.Cleanup(func() { checkLogClean(t, log.String()) })

			var status int
			var body string
			if tc.connect != "" {
				status, body = rawConnect(t, strings.TrimPrefix(proxy.URL, "http://"), tc.connect)
			} else {
				pu, _ := url.Parse(proxy.URL)
				tr := &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: tlsConfigWithRoots(instCA.pool)}
				t.Cleanup(tr.CloseIdleConnections)
				resp, err := (&http.Client{Transport: tr}).Get(tc.url)
				if err == nil {
					bb, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					status, body = resp.StatusCode, string(bb)
				} else if strings.Contains(err.Error(), "Forbidden") {
					// The CONNECT itself was refused; the client does not
					// show its body, so ask again to read it.
					status, body = rawConnect(t, strings.TrimPrefix(proxy.URL, "http://"), strings.TrimPrefix(strings.TrimSuffix(tc.url, "/x"), "https://")+":443")
				} else {
					t.Fatal(err)
				}
			}
			if status != http.StatusForbidden || !strings.Contains(body, hostLeak) {
				t.Errorf("got %d %q, want 403 %q", status, body, hostLeak)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(dialed) != 0 {
				t.Errorf("the bundle dialled %q", dialed)
			}
			if got := append(tlsUp.requests(), plainUp.requests()...); len(got) != 0 {
				t.Errorf("upstream saw %+v", got)
			}
		})
	}
}

// TestAttackExhaustDenialKeysFromPaths varies what the agent controls in
// a refused request that is not part of the aggregation key (the path,
// the Host header): the reason repeated it, so every refusal had a key
// of its own and was written at once, as if nothing were aggregated.
func TestAttackExhaustDenialKeysFromPaths(t *testing.T) {
	const n = 20
	tests := map[string]func(i int) string{
		"path not allowed": func(i int) string { return fmt.Sprintf("GET /admin/%d HTTP/1.1\r\nHost: api.example.test\r\n\r\n", i) },
		"path not normal": func(i int) string {
			return fmt.Sprintf("GET /repos/acme/a%%2Fb%d HTTP/1.1\r\nHost: api.example.test\r\n\r\n", i)
		},
		"Host header fronts": func(i int) string { return fmt.Sprintf("GET /user HTTP/1.1\r\nHost: h%d.example.test\r\n\r\n", i) },
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			f := newAttackFixture(t)
			for i := range n {
				a := f.tunnel(t, "api.example.test")
				if resp, body := a.roundTrip(t, req(i)); resp.StatusCode != http.StatusForbidden {
					t.Fatalf("got %d %q, want 403", resp.StatusCode, body)
				}
				a.Close()
			}
			var denials []string
			for _, d := range decisions(t, f.log.String()) {
				if d.Verdict == VerdictDeny {
					denials = append(denials, d.Reason)
				}
			}
			if len(denials) != 1 {
				t.Errorf("%d refusals of one kind wrote %d lines at once, want 1 (the rest counted): %q", n, len(denials), denials[:min(3, len(denials))])
			}
		})
	}
}

// TestAttackExhaustWebSocketPartialMessages opens many WebSockets and
// leaves a message of almost maxWebSocketMessage unfinished on each:
// the relay keeps every unfinished message (twice: payload and frames)
// until it ends, with no bound across sockets, so memory grew by 2 MiB a
// socket for as long as the agent pinged. Bodies share a bound
// (inspectSlots); messages had none.
func TestAttackExhaustWebSocketPartialMessages(t *testing.T) {
	const sockets = maxWebSocketBuffered/(maxWebSocketMessage-16) + 4
	f := newAttackFixture(t)
	big := clientFrame(false, 2, make([]byte, maxWebSocketMessage-16), testMask)
	var open []*agentConn
	for range sockets {
		a := f.wsAgent(t, "")
		// A socket refused for its frame's length is closed before the
		// payload is read, so the write may fail.
		a.Write(big)
		open = append(open, a)
	}
	last := open[len(open)-1]
	last.SetReadDeadline(time.Now().Add(3 * time.Second))
	fr, err := readTestFrame(last.br)
	if err != nil || fr.opcode != 8 || len(fr.payload) < 2 || binary.BigEndian.Uint16(fr.payload) != wsTryAgainLater {
		t.Fatalf("socket %d of %d, each holding an unfinished message of %d bytes, got %+v %v; want a close frame with %d",
			sockets, sockets, maxWebSocketMessage-16, fr, err, wsTryAgainLater)
	}
	for _, a := range open {
		a.Close()
	}
	// The bytes are given back when a socket ends: a new one can send a
	// whole message again.
	for try := 0; ; try++ {
		a := f.wsAgent(t, "")
		a.Write(clientFrame(true, 2, make([]byte, maxWebSocketMessage-16), testMask))
		a.Write(clientFrame(true, 1, []byte("ok"), testMask))
		fr, err := readTestFrame(a.br)
		a.Close()
		if err == nil && string(fr.payload) == "ok" {
			break
		}
		if try == 20 {
			t.Fatalf("after the sockets closed, a message still got %+v %v", fr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAttackDLPUTF16Body sends a JSON body in UTF-16 (or UTF-32), which
// JSON parsers that detect the encoding (Python's json.loads of bytes,
// so Flask's get_json) read as the secret; every byte of it was
// interleaved with zero bytes, so no view held the secret.
func TestAttackDLPUTF16Body(t *testing.T) {
	doc := `{"note":"` + canary + `"}`
	// Text that is not ASCII has few zero bytes in UTF-16.
	cjk := `{"note":"` + strings.Repeat("中文", 200) + canary + strings.Repeat("中文", 200) + `"}`
	tests := map[string][]byte{
		"UTF-16LE with BOM":    append([]byte{0xff, 0xfe}, wide(doc, 2, false)...),
		"UTF-16BE":             wide(doc, 2, true),
		"UTF-32LE":             wide(doc, 4, false),
		"UTF-16LE, mostly CJK": wide(cjk, 2, false),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			f.sendLeak(t, newReq(t, "POST", "https://open.example.test/notes", body, "Content-Type", "application/json"), leakReason)
		})
	}
}

// wide writes s in UTF-16 (size 2) or UTF-32 (size 4), big-endian when
// be.
func wide(s string, size int, be bool) []byte {
	var units []uint32
	if size == 2 {
		for _, u := range utf16.Encode([]rune(s)) {
			units = append(units, uint32(u))
		}
	} else {
		for _, r := range s {
			units = append(units, uint32(r))
		}
	}
	var b []byte
	for _, u := range units {
		for i := range size {
			shift := 8 * i
			if be {
				shift = 8 * (size - 1 - i)
			}
			b = append(b, byte(u>>shift))
		}
	}
	return b
}

// TestAttackExhaustDenialKeysFromRepoNames is the git gate's form of
// TestAttackExhaustDenialKeysFromPaths: the refusal of an unknown repo
// quoted the name the agent chose.
func TestAttackExhaustDenialKeysFromRepoNames(t *testing.T) {
	const n = 20
	f := newGateFixture(t)
	for i := range n {
		resp, err := http.Get(fmt.Sprintf("%s/other%d.git/info/refs?service=git-upload-pack", f.gate.URL, i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("got %d, want 404", resp.StatusCode)
		}
	}
	var denials []string
	for _, d := range decisions(t, f.log.String()) {
		if d.Verdict == VerdictDeny {
			denials = append(denials, d.Reason)
		}
	}
	if len(denials) != 1 {
		t.Errorf("%d refusals of one kind wrote %d lines at once, want 1 (the rest counted): %q", n, len(denials), denials[:min(3, len(denials))])
	}
}

// TestAttackDLPSecondDeflateStream sends a "deflate" body of two zlib
// streams: the bundle inflated the first and never looked at the
// second, which an upstream that inflates what follows (or the agent's
// accomplice) reads as the secret. A body with bytes after its stream has
// no single reading, so it is refused.
func TestAttackDLPSecondDeflateStream(t *testing.T) {
	tests := map[string][]byte{
		"zlib":        append(zlibbed(t, []byte("hello")), zlibbed(t, []byte("token "+canary))...),
		"raw deflate": append(rawDeflated(t, []byte("hello")), rawDeflated(t, []byte("token "+canary))...),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			f.sendLeak(t, newReq(t, "POST", "https://open.example.test/upload", body, "Content-Encoding", "deflate"), "request body has bytes after its deflate stream")
		})
	}
}

// TestAttackExhaustManyConnections opens more connections to the proxy
// than maxAgentConns and keeps them: each costs the bundle a file
// descriptor, goroutines and buffers (an idle intercepted tunnel about
// 50 KiB), and keeping one is as cheap as a request every Idle, so
// nothing bounded them. Past the bound a connection waits to be served
// until another one ends.
func TestAttackExhaustManyConnections(t *testing.T) {
	f := newServedFixture(t, Timeouts{})
	first := dialT(t, f.addrs["proxy"])
	for range maxAgentConns - 1 {
		dialT(t, f.addrs["proxy"])
	}
	late := dialT(t, f.addrs["proxy"])
	defer late.Close()
	io.WriteString(late, "GET /healthz HTTP/1.1\r\nHost: bundle\r\n\r\n")
	late.SetReadDeadline(time.Now().Add(time.Second))
	if b, err := io.ReadAll(late); len(b) > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection %d was served (%q, %v) while %d others were open", maxAgentConns+1, b, err, maxAgentConns)
	}
	// Once one ends, the waiting connection is served.
	first.Close()
	late.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(late), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after a connection ended, the waiting one got %v %v", resp, err)
	}
}
