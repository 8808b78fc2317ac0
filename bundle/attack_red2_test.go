package bundle

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Red team, second round: the agent attacks the MCP channel and runtime
// grants (issue 12).

// One JSON-RPC batch of held_requests calls, posted in one 64 KiB body,
// makes the bundle build one answer per call: with the list full of the
// agent's own questions (control characters JSON writes as \u00XX, six
// bytes each), every call repeats a list of a few hundred KiB, and the
// whole batch's answer is built in memory before it is written. A few
// such POSTs at once would take the bundle past its memory limit. A
// batch must be refused (batches left MCP in 2025-06-18) or its answer
// stay small.
func TestAttackMCPBatchAmplification(t *testing.T) {
	f := newProxyFixture(t)
	f.bundle.Proxy.holds.timeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := strings.Repeat("\x01", maxAskText)
	var waiting []<-chan string
	for range maxAgentAsks {
		ch := make(chan string, 1)
		go func() {
			ch <- rawToolCall(ctx, f.sup.URL, "ask_operator", fmt.Sprintf(`{"question":%s}`, jsonString(q)))
		}()
		waiting = append(waiting, ch)
	}
	waitKind(t, f.bundle.Proxy, KindQuestion, maxAgentAsks)

	call := `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"held_requests"}}`
	var calls []string
	size := 2
	for i := 0; ; i++ {
		c := fmt.Sprintf(call, i)
		if size+len(c)+1 > maxMCPBody {
			break
		}
		calls = append(calls, c)
		size += len(c) + 1
	}
	body := "[" + strings.Join(calls, ",") + "]"
	for i, version := range []string{"", "2025-03-26"} {
		if i == 1 {
			body = " \r\n\t" + body[:len(body)-len(calls[len(calls)-1])-2] + "]" // JSON white space first
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", f.sup.URL+MCPPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if version != "" {
			req.Header.Set("Mcp-Protocol-Version", version)
		}
		resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Logf("version %q: a %d-byte batch of %d calls answered %d with %d bytes", version, len(body), strings.Count(body, "tools/call"), resp.StatusCode, n)
		if n > 1<<20 {
			t.Errorf("version %q: a %d-byte POST made a %d-byte answer (%dx)", version, len(body), n, n/int64(len(body)))
		}
	}
	cancel()
	for _, ch := range waiting {
		<-ch
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Revoking a grant must end the agent's use of the host. An intercepted
// tunnel to a granted host, opened before the revocation, kept carrying
// requests upstream after it: the agent keeps one keep-alive tunnel busy
// (every request resets its idle clock) and the operator's revoke, or
// the apply that converges on the plan, never takes the host away.
func TestAttackGrantOutlivesRevokeInTunnel(t *testing.T) {
	f := newProxyFixture(t)
	grantHost(t, f, "granted.example.test:443")
	if code, body := f.do(t, "GET", "https://granted.example.test/before", ""); code != 200 {
		t.Fatalf("granted host before the revoke: %d %s", code, body)
	}
	if n := f.bundle.Proxy.RevokeGrants(); n != 1 {
		t.Fatalf("revoked %d grants", n)
	}
	// The same client reuses its open tunnel.
	code, body := f.do(t, "GET", "https://granted.example.test/after", "")
	for _, u := range f.tlsUp.requests() {
		if u.Path == "/after" {
			t.Fatalf("a request went upstream after the grant was revoked (answered %d %q)", code, body)
		}
	}
	if code != 403 || !strings.Contains(body, "blocked") {
		t.Fatalf("after the revoke: %d %q", code, body)
	}
	// A new tunnel is refused too.
	if code, _ := rawConnect(t, f.proxyAddr(), "granted.example.test:443"); code != 403 {
		t.Fatalf("CONNECT after the revoke answered %d", code)
	}
}

// request_access takes "no IP literal", but only the forms Go parses
// were refused: "127.1", "0177.0.0.1" and "0x7f.0.0.1" are IPv4 addresses
// to inet_aton, curl and most resolvers' callers, and they passed as DNS
// names, so the operator was asked to approve, and the CA to mint for, a
// loopback address spelled as a name. No top-level domain is numeric
// (RFC 3696 2), so a name whose last label is digits, or hex in 0x
// form, is refused as an IP.
func TestAttackRequestAccessIPSpelledAsName(t *testing.T) {
	f := newProxyFixture(t)
	for _, h := range []string{"127.1", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001.0x1", "10.0.0.010", "127.0.1:443", "1.1.1.01:8443", "01.02.03.04"} {
		_, _, err := f.bundle.Proxy.parseAccessHost(h)
		if err == nil || !strings.Contains(err.Error(), "IP address") {
			t.Errorf("request_access %q: %v", h, err)
		}
	}
	for _, h := range []string{"1password.com", "api.0x.org", "3.example.com", "x.123abc"} {
		if _, _, err := f.bundle.Proxy.parseAccessHost(h); err != nil {
			t.Errorf("request_access %q refused: %v", h, err)
		}
	}
}

// GET /requests on the supervise listener answered every kept decision
// (up to maxHeld held and maxDenied denied, each field up to
// maxDecisionField bytes) in one JSON document encoded whole in memory
// before a byte was written: a path of control characters (sent
// percent-encoded, kept decoded) costs six bytes of JSON each. A 100-byte
// GET then makes the bundle build megabytes, and an agent that opens
// many such GETs and reads none of them keeps every buffer alive
// (WriteStall is minutes): the bundle runs out of memory. However many
// readers stall, what they pin must stay bounded.
func TestAttackSuperviseRequestsAmplification(t *testing.T) {
	f := newProxyFixture(t)
	path := "/" + strings.Repeat("%01", maxDecisionField)
	for i := range maxDenied {
		c := dialT(t, f.proxyAddr())
		fmt.Fprintf(c, "M%0500d http://denied.example.test%s HTTP/1.1\r\nHost: denied.example.test\r\n\r\n", i, path)
		io.Copy(io.Discard, c)
		c.Close()
	}
	if n := len(f.bundle.Recorder.Denied()); n < maxDenied {
		t.Fatalf("%d denials kept", n)
	}
	resp, err := http.Get(f.sup.URL + "/requests")
	if err != nil {
		t.Fatal(err)
	}
	size, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	t.Logf("GET /requests: %d bytes", size)

	// Readers that never read: what the bundle's heap holds for them.
	const readers = 64
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var conns []net.Conn
	for range readers {
		c := dialT(t, strings.TrimPrefix(f.sup.URL, "http://"))
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4 << 10)
		}
		fmt.Fprintf(c, "GET /requests HTTP/1.1\r\nHost: x\r\n\r\n")
		conns = append(conns, c)
	}
	time.Sleep(2 * time.Second)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	for _, c := range conns {
		c.Close()
	}
	grew := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("%d stalled GET /requests hold %d MiB of heap", readers, grew>>20)
	if grew > 24<<20 {
		t.Errorf("%d stalled readers of a %d-byte answer pin %d MiB of the bundle's heap", readers, size, grew>>20)
	}
}

// After a grant, the agent tries to widen it: a WebSocket upgrade (a
// tunnel DLP reads only frame by frame, and a grant allows none), the
// host spelled otherwise inside the tunnel, another host fronted
// through the granted tunnel, and a request_access for a route host
// with auth on another port so that the grant would carry its token.
func TestAttackGrantWidening(t *testing.T) {
	f := newProxyFixture(t)
	grantHost(t, f, "Granted.Example.Test.:443")
	if gs := f.bundle.Proxy.Grants(); len(gs) != 1 || gs[0].Host != "granted.example.test" || gs[0].Port != 443 {
		t.Fatalf("grants: %+v", gs)
	}
	req, _ := http.NewRequest("GET", "https://granted.example.test/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("WebSocket upgrade on a granted host answered %d", resp.StatusCode)
	}
	// Fronting: the tunnel is to the granted host, the Host header names
	// a route with auth.
	req, _ = http.NewRequest("GET", "https://granted.example.test/repos/acme/x", nil)
	req.Host = "api.example.test"
	if resp, err := f.client.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("Host api.example.test in the granted tunnel answered %d", resp.StatusCode)
		}
	}
	for _, u := range f.tlsUp.requests() {
		if u.Authorization != "" || u.Path == "/ws" || u.Path == "/repos/acme/x" {
			t.Errorf("upstream saw %+v", u)
		}
	}
	// A grant on another port of a route host with auth carries no token.
	grantHost(t, f, "api.example.test:8443")
	if r, ok := f.bundle.Proxy.grants.route("api.example.test", 8443); !ok || r.Auth != nil || r.DLP != DLPBlock {
		t.Fatalf("grant on a route host's other port: %+v", r)
	}
}

// The secret in every spelling DLP knows (docs/dlp.md), put in the
// agent's question and access reason: none reaches the operator's list,
// the agent's held_requests or the decision log.
func TestAttackMCPSecretSpellings(t *testing.T) {
	f := newProxyFixture(t)
	f.bundle.Proxy.holds.timeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b64 := base64.StdEncoding.EncodeToString([]byte("xy" + canary))
	utf16 := ""
	for _, c := range canary {
		utf16 += string(c) + "\x00"
	}
	spellings := []string{
		url.QueryEscape(canary), strings.ToUpper(canary),
		base64.RawURLEncoding.EncodeToString([]byte(canary)),
		b64[:len(b64)/2] + "\n" + b64[len(b64)/2:], // wrapped, inside a longer blob
		strings.ReplaceAll(jsonString(canary), "a", `\u0061`),
		utf16,
	}
	var waiting []<-chan string
	for i, s := range spellings {
		tool, args := "ask_operator", fmt.Sprintf(`{"question":%s}`, jsonString("token: "+s))
		if i%2 == 1 {
			tool, args = "request_access", fmt.Sprintf(`{"host":"h%d.example.com","reason":%s}`, i, jsonString("token: "+s))
		}
		ch := make(chan string, 1)
		go func() { ch <- rawToolCall(ctx, f.sup.URL, tool, args) }()
		waiting = append(waiting, ch)
	}
	items := waitPending(t, f.bundle.Proxy, len(spellings))
	listed := rawToolCall(ctx, f.sup.URL, "held_requests", `{}`)
	_, list := operatorCall(t, f, "GET", "/items", "")
	for _, it := range items {
		if text := it.Question + it.Reason; text != "token: [REDACTED]" && text != "[REDACTED]" {
			t.Errorf("item kept %q", text)
		}
	}
	for what, text := range map[string]string{"held_requests": listed, "operator list": list} {
		if strings.Contains(text, "token: "+canary[:4]) || strings.Count(text, "[REDACTED]") < len(spellings) {
			t.Errorf("%s:\n%s", what, text)
		}
	}
	cancel()
	for _, ch := range waiting {
		<-ch
	}
}
