package bundle

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The agent's side of the MCP channel, attacked. The agent is the
// adversary: it may ask and wait, never decide or grant.

// From every listener the agent can reach (proxy, git gate, supervise
// with /mcp), every method on every path an operator API might answer,
// with the real IDs of a pending access request and question, and the
// MCP tools called with forged IDs and decision arguments, and JSON-RPC
// methods that are not tools: nothing decides an item or creates a
// grant.
func TestAttackMCPAgentCannotDecideOrGrant(t *testing.T) {
	f := newServedFixture(t, Timeouts{})
	f.b.Proxy.holds.timeout = time.Minute
	supURL := "http://" + f.addrs["supervise"]
	s := mcpSession(t, supURL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	access := callAsync(ctx, s, "request_access", map[string]any{"host": "granted.example.test", "reason": "please"})
	question := callAsync(ctx, s, "ask_operator", map[string]any{"question": "may I?"})
	items := waitPending(t, f.b.Proxy, 2)
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}

	// The tools, with IDs and decisions the agent forges into them.
	for _, id := range ids {
		for _, tool := range []string{"held_requests", "request_access", "ask_operator", "approve", "deny", "answer", "grant"} {
			callTool(ctx, s, tool, map[string]any{"id": id, "approve": true, "decision": "approve", "text": "yes",
				"host": "granted.example.test", "reason": "approve " + id, "question": "approve " + id})
		}
	}
	// JSON-RPC methods that are not tools, posted raw.
	for _, id := range ids {
		for _, m := range []string{"items/approve", "approve", "tools/approve", "operator/approve", "grants/add", "resources/read", "prompts/get"} {
			body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":{"id":%q,"uri":"operator://items/%s/approve","name":"approve"}}`, m, id, id)
			req, _ := http.NewRequest("POST", supURL+MCPPath, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set(callHeader, id)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}
	// Every method and path on every listener, direct and through the
	// proxy.
	var paths []string
	for _, id := range ids {
		paths = append(paths, "/items/"+id+"/approve", "/items/"+id+"/deny", "/items/"+id+"/answer", "/items/"+id,
			"/mcp/items/"+id+"/approve", "/held/"+id+"/approve", "/approve/"+id, "/"+id)
	}
	paths = append(paths, "/items", "/grants", "/grants/granted.example.test", "/mcp/grants")
	tried := 0
	for _, daemon := range []string{"proxy", "git-gate", "supervise"} {
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			for _, p := range paths {
				for _, direct := range []bool{true, false} {
					target, dial := p, f.addrs[daemon]
					if !direct {
						target, dial = "http://"+f.addrs[daemon]+p, f.addrs["proxy"]
					}
					conn := dialT(t, dial)
					fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n{\"text\":\"yes\",\"reason\":\"\"}", m, target, f.addrs[daemon])
					conn.SetReadDeadline(time.Now().Add(wait))
					if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
						resp.Body.Close()
					}
					conn.Close()
					tried++
				}
			}
		}
	}
	got := f.b.Proxy.Pending()
	if len(got) != 2 || got[0].ID != items[0].ID || got[1].ID != items[1].ID {
		t.Fatalf("after %d tries from the agent's side, pending: %+v", tried, got)
	}
	if gs := f.b.Proxy.Grants(); len(gs) != 0 {
		t.Fatalf("the agent made grants: %+v", gs)
	}
	if code, _ := rawConnect(t, f.addrs["proxy"], "granted.example.test:443"); code != 403 {
		t.Fatalf("CONNECT to the asked-for host answered %d", code)
	}
	cancel()
	<-access
	<-question
}

// A secret's value in a question, a reason or a host never reaches the
// operator's list, the MCP results or the log: scrubbed, or the ask
// refused.
func TestAttackMCPSecretsScrubbed(t *testing.T) {
	f := newProxyFixture(t)
	f.bundle.Proxy.holds.timeout = time.Minute
	s := mcpSession(t, f.sup.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := callAsync(ctx, s, "ask_operator", map[string]any{"question": "is " + canary + " the token?"})
	a := callAsync(ctx, s, "request_access", map[string]any{"host": "granted.example.test", "reason": "to post " + canary})
	items := waitPending(t, f.bundle.Proxy, 2)
	// A secret in the host is refused outright, in every position.
	for _, h := range []string{canary + ".evil.example", "x." + canary + ".example.com", "evil.example:" + canary} {
		r := callTool(ctx, s, "request_access", map[string]any{"host": h, "reason": "r"})
		if !r.isError || strings.Contains(r.text+r.raw, canary) {
			t.Errorf("request_access with a secret in the host %q: %+v", h, r)
		}
	}
	_, list := operatorCall(t, f, "GET", "/items", "")
	listed := callTool(ctx, s, "held_requests", nil)
	for what, text := range map[string]string{"operator list": list, "held_requests": listed.raw + listed.text} {
		if strings.Contains(text, canary) || strings.Count(text, "[REDACTED]") != 2 {
			t.Errorf("%s not scrubbed:\n%s", what, text)
		}
	}
	for _, it := range items {
		verb, body := "approve", `{"reason":"yes `+canary+`"}`
		if it.Kind == KindQuestion {
			verb, body = "answer", `{"text":"yes `+canary+`"}`
		}
		operatorCall(t, f, "POST", "/items/"+it.ID+"/"+verb, body)
	}
	for _, ch := range []<-chan toolResult{q, a} {
		r := awaitTool(t, ch)
		if strings.Contains(r.text+r.raw, canary) || !strings.Contains(r.text, "[REDACTED]") {
			t.Errorf("the operator's text reached the agent unscrubbed: %+v", r)
		}
	}
	_, grants := operatorCall(t, f, "GET", "/grants", "")
	if strings.Contains(grants, canary) {
		t.Errorf("grants list: %s", grants)
	}
	f.bundle.Recorder.Flush()
	if !strings.Contains(f.log.String(), "question: is [REDACTED] the token?") {
		t.Errorf("log lacks the scrubbed question:\n%s", f.log.String())
	}
	// checkLogClean (the fixture's cleanup) fails on any secret in the log.
}

// A flood of asks is bounded: at most maxAgentAsks wait at once, the rest
// are refused at once, held requests keep their own room, over-long text
// and bodies are refused, and the log aggregates the refusals.
func TestAttackMCPFlood(t *testing.T) {
	f := newProxyFixture(t)
	f.bundle.Proxy.holds.timeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waiting []<-chan string
	for i := range maxAgentAsks {
		tool, args := "ask_operator", fmt.Sprintf(`{"question":"q%d"}`, i)
		if i%2 == 1 {
			tool, args = "request_access", fmt.Sprintf(`{"host":"h%d.example.com","reason":"r"}`, i)
		}
		ch := make(chan string, 1)
		go func() { ch <- rawToolCall(ctx, f.sup.URL, tool, args) }()
		waiting = append(waiting, ch)
	}
	waitPending(t, f.bundle.Proxy, maxAgentAsks)
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := rawToolCall(ctx, f.sup.URL, "ask_operator", fmt.Sprintf(`{"question":"more %d"}`, i))
			mu.Lock()
			defer mu.Unlock()
			if strings.Contains(got, "too many access requests and questions") {
				refused++
			} else {
				t.Logf("not refused: %s", got)
			}
		}()
	}
	wg.Wait()
	if refused != 200 || len(f.bundle.Proxy.Pending()) != maxAgentAsks {
		t.Fatalf("%d of 200 refused, %d pending", refused, len(f.bundle.Proxy.Pending()))
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("the refusals took %v", d)
	}
	// Held requests have their own room.
	held := f.doAsync(ctx, "GET", "https://heldauth.example.test/elsewhere", "")
	waitKind(t, f.bundle.Proxy, KindHeld, 1)
	// Over-long text, and an over-long body, are refused.
	if got := rawToolCall(ctx, f.sup.URL, "ask_operator", `{"question":"`+strings.Repeat("x", maxAskText+1)+`"}`); !strings.Contains(got, "longer than") {
		t.Errorf("over-long question: %s", got)
	}
	if got := rawToolCall(ctx, f.sup.URL, "ask_operator", `{"question":"`+strings.Repeat("x", maxMCPBody)+`"}`); !strings.HasPrefix(got, "413 ") {
		t.Errorf("over-long body: %s", got)
	}
	f.bundle.Recorder.Flush()
	if n := strings.Count(f.log.String(), "too many access requests"); n > 2 {
		t.Errorf("200 refusals wrote %d log lines, want them aggregated", n)
	}
	cancel()
	for _, ch := range waiting {
		<-ch
	}
	<-held
}

// rawToolCall posts one tools/call to /mcp as a bare HTTP client (no
// session: the endpoint is stateless) and returns "status body".
func rawToolCall(ctx context.Context, supURL, tool, args string) string {
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`
	req, _ := http.NewRequestWithContext(ctx, "POST", supURL+MCPPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

// A granted host is guarded like the strictest route: a secret in the
// body is blocked (DLP block), no token is injected even when the agent
// sends none, and the dial still goes through the proxy's dialer.
func TestAttackGrantedHostDLPAndNoToken(t *testing.T) {
	f := newProxyFixture(t)
	grantHost(t, f, "granted.example.test:443")
	grantHost(t, f, "granted.example.test:80")
	for _, u := range []string{"https://granted.example.test/upload", "http://granted.example.test/upload"} {
		code, body := f.do(t, "POST", u, "here: "+canary)
		if code != 403 || !strings.Contains(body, "blocked") {
			t.Fatalf("secret to a granted host (%s): %d %q", u, code, body)
		}
	}
	for _, u := range append(f.tlsUp.requests(), f.plainUp.requests()...) {
		if strings.Contains(u.Body, canary) {
			t.Fatalf("upstream got the secret: %+v", u)
		}
	}
	// No Authorization of the agent's: none is added.
	req, _ := http.NewRequest("GET", "https://granted.example.test/whoami", nil)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, u := range f.tlsUp.requests() {
		if u.Path == "/whoami" && u.Authorization != "" {
			t.Fatalf("a token was injected for the granted host: %q", u.Authorization)
		}
	}
	// The grant is one host and port: a subdomain and another port stay
	// blocked.
	for _, target := range []string{"a.granted.example.test:443", "granted.example.test:8443"} {
		if code, _ := rawConnect(t, f.proxyAddr(), target); code != 403 {
			t.Errorf("CONNECT %s answered %d", target, code)
		}
	}
}

// grantHost has the agent ask for hostport over MCP and the operator
// approve it.
func grantHost(t *testing.T, f *proxyFixture, hostport string) {
	t.Helper()
	f.bundle.Proxy.holds.timeout = time.Minute
	s := mcpSession(t, f.sup.URL)
	ch := callAsync(context.Background(), s, "request_access", map[string]any{"host": hostport, "reason": "test"})
	it := waitKind(t, f.bundle.Proxy, KindAccess, 1)[0]
	if code, body := operatorCall(t, f, "POST", "/items/"+it.ID+"/approve", ""); code != 200 {
		t.Fatalf("approve: %d %s", code, body)
	}
	if r := awaitTool(t, ch); r.out.Outcome != "approved" {
		t.Fatalf("request_access: %+v", r)
	}
}

// The CA mints only for route hosts and live grants, whatever its own
// name constraints permit (a supervised instance's CA permits every DNS
// name): before the grant and after its revocation the bundle refuses
// to mint for the host.
func TestGrantMintsOnlyWhileGranted(t *testing.T) {
	f := newProxyFixture(t)
	p := f.bundle.Proxy
	if _, err := p.ca.leafFor("granted.example.test", p.mayMint); err == nil || !strings.Contains(err.Error(), "not a route host or runtime grant") {
		t.Fatalf("mint before the grant: %v", err)
	}
	if _, err := p.ca.leafFor("api.example.test", p.mayMint); err != nil {
		t.Fatalf("mint for a route host: %v", err)
	}
	if _, err := p.ca.leafFor("x.files.example.test", p.mayMint); err != nil {
		t.Fatalf("mint for a wildcard route's host: %v", err)
	}
	grantHost(t, f, "granted.example.test")
	if _, err := p.ca.leafFor("granted.example.test", p.mayMint); err != nil {
		t.Fatalf("mint for a granted host: %v", err)
	}
	p.RevokeGrants()
	if _, err := p.ca.leafFor("granted.example.test", p.mayMint); err == nil {
		t.Fatal("minted for a revoked grant")
	}
}

// A tunnel opened under a grant serves no request once the grant is
// revoked.
func TestRevokedGrantEndsOpenTunnel(t *testing.T) {
	f := newProxyFixture(t)
	grantHost(t, f, "granted.example.test")
	c, err := net.Dial("tcp", f.proxyAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	fmt.Fprintf(c, "CONNECT granted.example.test:443 HTTP/1.1\r\nHost: granted.example.test:443\r\n\r\n")
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	tc := tls.Client(&bufConn{Conn: c, r: br}, &tls.Config{ServerName: "granted.example.test", RootCAs: f.instCA.pool})
	tr := bufio.NewReader(tc)
	get := func() string {
		fmt.Fprintf(tc, "GET /x HTTP/1.1\r\nHost: granted.example.test\r\n\r\n")
		resp, err := http.ReadResponse(tr, nil)
		if err != nil {
			return err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	if got := get(); got != "200 upstream GET /x" {
		t.Fatalf("before the revocation: %q", got)
	}
	f.bundle.Proxy.RevokeGrants()
	if got := get(); got != "403 blocked: the runtime grant for granted.example.test:443 was revoked\n" {
		t.Fatalf("after the revocation: %q", got)
	}
}
