package bundle

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The attacks on protocol upgrades: the agent asks for a 101 and, if it
// gets one, sends bytes that no request check reads.

// wsHandshake is a WebSocket opening handshake for host and path.
func wsHandshake(host, target, extra string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// clientFrame is one frame as a client sends it, masked with key.
func clientFrame(fin bool, opcode byte, payload []byte, key [4]byte) []byte {
	var b bytes.Buffer
	first := opcode
	if fin {
		first |= 0x80
	}
	b.WriteByte(first)
	switch n := len(payload); {
	case n < 126:
		b.WriteByte(0x80 | byte(n))
	case n <= 0xffff:
		b.WriteByte(0x80 | 126)
		binary.Write(&b, binary.BigEndian, uint16(n))
	default:
		b.WriteByte(0x80 | 127)
		binary.Write(&b, binary.BigEndian, uint64(n))
	}
	b.Write(key[:])
	for i, c := range payload {
		b.WriteByte(c ^ key[i%4])
	}
	return b.Bytes()
}

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// Without the route's opt-in, every upgrade is refused before anything
// reaches the upstream, whatever its token and however it arrives: the
// secret and the forbidden request sent after a 101 never leave.
func TestAttackUpgradeRefusedWithoutOptIn(t *testing.T) {
	const after = "GET /admin/delete-everything HTTP/1.1\r\nHost: x\r\nX-Leak: " + canary + "\r\n\r\n"
	tests := map[string]struct {
		tunnel string // CONNECT host; "" sends absolute-form to the proxy
		req    string
		http   bool // the upstream is the plain-HTTP one
	}{
		"websocket in tunnel": {tunnel: "nows.example.test", req: wsHandshake("nows.example.test", "/socket/x", "")},
		"websocket in tunnel without matches": {tunnel: "open.example.test",
			req: wsHandshake("open.example.test", "/x", "")},
		"h2c in tunnel": {tunnel: "open.example.test",
			req: "GET / HTTP/1.1\r\nHost: open.example.test\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"},
		"other token in tunnel": {tunnel: "open.example.test",
			req: "GET / HTTP/1.1\r\nHost: open.example.test\r\nUpgrade: raw-tcp\r\nConnection: upgrade\r\n\r\n"},
		"websocket among other tokens on an opted-in route": {tunnel: "ws.example.test",
			req: "GET /socket/x HTTP/1.1\r\nHost: ws.example.test\r\nUpgrade: foo, websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n"},
		"upgrade without connection token": {tunnel: "open.example.test",
			req: "GET / HTTP/1.1\r\nHost: open.example.test\r\nUpgrade: websocket\r\n\r\n"},
		"h2c on an opted-in route": {tunnel: "ws.example.test",
			req: "GET /socket/x HTTP/1.1\r\nHost: ws.example.test\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"},
		"plain proxy intercepted route": {http: true,
			req: wsHandshake("open.example.test", "http://open.example.test/x", "")},
		"plain proxy blind route": {http: true,
			req: wsHandshake("plain.example.test", "http://plain.example.test/x", "")},
		"plain proxy h2c": {http: true,
			req: "GET http://plain.example.test/ HTTP/1.1\r\nHost: plain.example.test\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newAttackFixture(t)
			var a *agentConn
			if tc.tunnel != "" {
				a = f.tunnel(t, tc.tunnel)
			} else {
				a = f.plain(t)
			}
			resp, body := a.roundTrip(t, tc.req)
			if resp.StatusCode == http.StatusSwitchingProtocols {
				// What the attack does with a 101.
				io.WriteString(a, after)
				time.Sleep(100 * time.Millisecond)
			}
			a.Close()
			up := f.tlsUp
			if tc.http {
				up = f.httpUp
			}
			reqs, seen := up.seen(t)
			if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(body, "blocked: ") {
				t.Errorf("got %d %q, want 403 blocked: ...", resp.StatusCode, body)
			}
			if len(reqs) != 0 || strings.Contains(seen, canary) || strings.Contains(seen, "/admin") {
				t.Errorf("upstream saw:\n%s", seen)
			}
		})
	}
}

// wsAgent opens a WebSocket through an intercepted tunnel to the
// opted-in route and reads the upstream's first message.
func (f *attackFixture) wsAgent(t *testing.T, extra string) *agentConn {
	t.Helper()
	a := f.tunnel(t, "ws.example.test")
	resp, body := a.roundTrip(t, wsHandshake("ws.example.test", "/socket/chat", extra))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %d %q", resp.StatusCode, body)
	}
	if fr, err := readTestFrame(a.br); err != nil || string(fr.payload) != "hello" {
		t.Fatalf("first upstream message: %+v %v", fr, err)
	}
	return a
}

// On an opted-in route the agent's messages pass only after DLP read
// them: a secret in a text or binary message, whole or split over
// fragments, closes the socket with 1008 and never reaches the upstream.
func TestAttackUpgradeWebSocketSecretInFrame(t *testing.T) {
	half := len(canary) / 2
	tests := map[string][][]byte{
		"text":        {clientFrame(true, 1, []byte("token="+canary), testMask)},
		"binary":      {clientFrame(true, 2, []byte("\x00\x01"+canary), testMask)},
		"base64 text": {clientFrame(true, 1, []byte(base64.StdEncoding.EncodeToString([]byte(canary))), testMask)},
		"split over fragments with a ping between": {
			clientFrame(false, 1, []byte("a="+canary[:half]), testMask),
			clientFrame(true, 9, []byte("ping"), testMask),
			clientFrame(true, 0, []byte(canary[half:]), [4]byte{1, 2, 3, 4}),
		},
		"in a close reason": {clientFrame(true, 8, []byte("\x03\xe8"+canary), testMask)},
		"long message":      {clientFrame(true, 1, []byte(strings.Repeat("x", 70000)+canary), testMask)},
	}
	for name, frames := range tests {
		t.Run(name, func(t *testing.T) {
			f := newAttackFixture(t)
			a := f.wsAgent(t, "")
			for _, fr := range frames {
				a.Write(fr)
			}
			var got testFrame
			for {
				fr, err := readTestFrame(a.br)
				if err != nil {
					break
				}
				if fr.opcode == 8 {
					got = fr
					break
				}
			}
			a.Close()
			_, seen := f.tlsUp.seen(t)
			if strings.Contains(seen, canary) || strings.Contains(seen, canary[half:]) {
				t.Errorf("upstream saw the secret:\n%.400s", seen)
			}
			if got.opcode != 8 || len(got.payload) < 2 || binary.BigEndian.Uint16(got.payload) != 1008 {
				t.Errorf("agent got %+v, want a close frame with 1008", got)
			}
			if !strings.Contains(f.log.String(), `"verdict":"deny"`) || !strings.Contains(f.log.String(), "API_TOKEN") {
				t.Errorf("no deny naming API_TOKEN in log:\n%s", f.log.String())
			}
		})
	}
}

// Clean messages pass both ways, fragments reassembled, and the
// compression extension the agent offers is not passed on, so every
// frame stays readable.
func TestWebSocketCleanMessagesPass(t *testing.T) {
	f := newAttackFixture(t)
	a := f.wsAgent(t, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
	a.Write(clientFrame(false, 1, []byte("hello "), testMask))
	a.Write(clientFrame(true, 10, nil, testMask))
	a.Write(clientFrame(true, 0, []byte("upstream"), [4]byte{9, 8, 7, 6}))
	fr, err := readTestFrame(a.br)
	if err != nil || string(fr.payload) != "hello upstream" {
		t.Fatalf("echo: %+v %v", fr, err)
	}
	a.Write(clientFrame(true, 8, []byte{0x03, 0xe8}, testMask))
	if fr, err := readTestFrame(a.br); err != nil || fr.opcode != 8 {
		t.Fatalf("close answer: %+v %v", fr, err)
	}
	a.Close()
	reqs, seen := f.tlsUp.seen(t)
	if len(reqs) != 1 || reqs[0].Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Fatalf("upstream handshake: %s", seen)
	}
	if !strings.Contains(seen, "hello upstream") || !strings.Contains(seen, "control:") {
		t.Fatalf("upstream did not get the message and the pong:\n%s", seen)
	}
}

// The handshake is a request like any other: a path the route's
// matches forbid is refused; and after the 101 only WebSocket frames
// pass, so a second HTTP request written into the socket, or a
// compressed (RSV1) or unmasked frame, ends it without reaching the
// upstream.
func TestAttackUpgradeWebSocketForbiddenPath(t *testing.T) {
	t.Run("handshake path", func(t *testing.T) {
		f := newAttackFixture(t)
		a := f.tunnel(t, "ws.example.test")
		resp, body := a.roundTrip(t, wsHandshake("ws.example.test", "/admin", ""))
		a.Close()
		reqs, seen := f.tlsUp.seen(t)
		if resp.StatusCode != 403 || len(reqs) != 0 {
			t.Fatalf("got %d %q; upstream saw %s", resp.StatusCode, body, seen)
		}
	})
	after := map[string][]byte{
		"http request after 101": []byte("GET /admin/delete HTTP/1.1\r\nHost: ws.example.test\r\n\r\n"),
		"compressed frame":       append([]byte{0xc1}, clientFrame(true, 1, []byte("/admin/delete"), testMask)[1:]...),
		"unmasked frame":         append([]byte{0x81, 13}, "/admin/delete"...),
		"oversized frame":        {0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4},
	}
	for name, raw := range after {
		t.Run(name, func(t *testing.T) {
			f := newAttackFixture(t)
			a := f.wsAgent(t, "")
			a.Write(raw)
			a.Write(clientFrame(true, 1, []byte("/admin/after"), testMask))
			var got testFrame
			for {
				fr, err := readTestFrame(a.br)
				if err != nil || fr.opcode == 8 {
					got = fr
					break
				}
			}
			a.Close()
			_, seen := f.tlsUp.seen(t)
			if strings.Contains(seen, "/admin") {
				t.Errorf("upstream saw:\n%.400s", seen)
			}
			if got.opcode != 8 {
				t.Errorf("agent got %+v, want a close frame", got)
			}
		})
	}
}

// The plain-HTTP proxy relays an opted-in WebSocket the same way: the
// agent's frames are read before they leave.
func TestAttackUpgradeWebSocketSecretPlainProxy(t *testing.T) {
	f := newAttackFixture(t)
	a := f.plain(t)
	resp, body := a.roundTrip(t, wsHandshake("ws.example.test", "http://ws.example.test/socket/chat", ""))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %d %q", resp.StatusCode, body)
	}
	if fr, err := readTestFrame(a.br); err != nil || string(fr.payload) != "hello" {
		t.Fatalf("first upstream message: %+v %v", fr, err)
	}
	a.Write(clientFrame(true, 1, []byte("clean"), testMask))
	if fr, err := readTestFrame(a.br); err != nil || string(fr.payload) != "clean" {
		t.Fatalf("echo: %+v %v", fr, err)
	}
	a.Write(clientFrame(true, 1, []byte(canary), testMask))
	fr, err := readTestFrame(a.br)
	a.Close()
	_, seen := f.httpUp.seen(t)
	if err != nil || fr.opcode != 8 || binary.BigEndian.Uint16(fr.payload) != 1008 {
		t.Errorf("agent got %+v %v, want a close frame with 1008", fr, err)
	}
	if strings.Contains(seen, canary) {
		t.Errorf("upstream saw the secret:\n%.400s", seen)
	}
}
