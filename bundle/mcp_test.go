package bundle

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpSession connects the go-sdk client to the supervise listener's /mcp,
// as the agent would.
func mcpSession(t *testing.T, supURL string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "test"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: supURL + MCPPath, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("MCP connect: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// toolResult is what a tool call returned: its text and structured
// content, or the call's error.
type toolResult struct {
	text    string
	isError bool
	out     askOut
	raw     string
	err     error
}

func callTool(ctx context.Context, s *mcp.ClientSession, name string, args map[string]any) toolResult {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return toolResult{err: err}
	}
	var r toolResult
	r.isError = res.IsError
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			r.text += tc.Text
		}
	}
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		r.raw = string(b)
		json.Unmarshal(b, &r.out)
	}
	return r
}

// callAsync calls a tool from the agent's side and delivers the result.
func callAsync(ctx context.Context, s *mcp.ClientSession, name string, args map[string]any) <-chan toolResult {
	ch := make(chan toolResult, 1)
	go func() { ch <- callTool(ctx, s, name, args) }()
	return ch
}

func awaitTool(t *testing.T, ch <-chan toolResult) toolResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("tool call: %v", r.err)
		}
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("the tool call never returned")
	}
	return toolResult{}
}

// waitKind waits until n items of kind are pending and returns them.
func waitKind(t *testing.T, p *Proxy, kind Kind, n int) []Item {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := p.holds.list(kind)
		if len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s items pending, want %d: %+v", len(got), kind, n, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// operatorCall sends one operator API request.
func operatorCall(t *testing.T, f *proxyFixture, method, path, body string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	f.bundle.Operator.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec.Code, rec.Body.String()
}

// Each tool, called by the go-sdk client against the real handler, with
// the operator deciding through the operator API.
func TestMCPToolsWithOperator(t *testing.T) {
	f := newProxyFixture(t)
	f.bundle.Proxy.holds.timeout = time.Minute
	s := mcpSession(t, f.sup.URL)
	ctx := context.Background()

	tools, err := s.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	if strings.Join(names, ",") != "ask_operator,held_requests,request_access" {
		t.Fatalf("tools %v", names)
	}

	// held_requests lists a held request with its ID, method, host, path.
	held := f.doAsync(ctx, "POST", "https://heldauth.example.test/elsewhere", "x")
	h := waitKind(t, f.bundle.Proxy, KindHeld, 1)[0]
	r := callTool(ctx, s, "held_requests", nil)
	var hl heldRequestsOut
	json.Unmarshal([]byte(r.raw), &hl)
	if r.err != nil || len(hl.Items) != 1 || hl.Items[0].ID != h.ID || hl.Items[0].Method != "POST" ||
		hl.Items[0].Host != "heldauth.example.test" || hl.Items[0].Path != "/elsewhere" || hl.Items[0].Kind != KindHeld {
		t.Fatalf("held_requests: %+v %s", r, r.raw)
	}
	operatorCall(t, f, "POST", "/items/"+h.ID+"/deny", "")
	awaitResult(t, held)

	// ask_operator: the answer is the result.
	ch := callAsync(ctx, s, "ask_operator", map[string]any{"question": "which branch?"})
	q := waitKind(t, f.bundle.Proxy, KindQuestion, 1)[0]
	if q.Question != "which branch?" {
		t.Fatalf("question item %+v", q)
	}
	if code, body := operatorCall(t, f, "POST", "/items/"+q.ID+"/approve", ""); code != 409 || !strings.Contains(body, "use answer") {
		t.Fatalf("approve on a question: %d %s", code, body)
	}
	if code, body := operatorCall(t, f, "POST", "/items/"+q.ID+"/answer", `{"text":""}`); code != 400 {
		t.Fatalf("empty answer: %d %s", code, body)
	}
	if code, body := operatorCall(t, f, "POST", "/items/"+q.ID+"/answer", `{"text":"main, and the token is `+canary+`"}`); code != 200 {
		t.Fatalf("answer: %d %s", code, body)
	}
	r = awaitTool(t, ch)
	if r.isError || r.text != "main, and the token is [REDACTED]" || r.out.Outcome != "answered" || r.out.ID != q.ID {
		t.Fatalf("ask_operator result %+v", r)
	}

	// request_access denied: the host stays blocked.
	ch = callAsync(ctx, s, "request_access", map[string]any{"host": "granted.example.test", "reason": "docs"})
	a := waitKind(t, f.bundle.Proxy, KindAccess, 1)[0]
	if a.Host != "granted.example.test:443" || a.Reason != "docs" {
		t.Fatalf("access item %+v", a)
	}
	if code, body := operatorCall(t, f, "POST", "/items/"+a.ID+"/answer", `{"text":"x"}`); code != 409 || !strings.Contains(body, "use approve or deny") {
		t.Fatalf("answer on an access request: %d %s", code, body)
	}
	operatorCall(t, f, "POST", "/items/"+a.ID+"/deny", `{"reason":"not that one"}`)
	r = awaitTool(t, ch)
	if !r.isError || r.text != "denied by operator: not that one" || r.out.Outcome != "denied" {
		t.Fatalf("denied request_access %+v", r)
	}
	if code, _ := f.do(t, "GET", "http://granted.example.test/x", ""); code != 403 {
		t.Fatalf("denied host answered %d", code)
	}
	if code, _ := rawConnect(t, f.proxyAddr(), "granted.example.test:443"); code != 403 {
		t.Fatalf("CONNECT to the denied host answered %d", code)
	}

	// request_access approved: both request forms reach the host, no
	// token injected; the grant is listed and logged.
	ch = callAsync(ctx, s, "request_access", map[string]any{"host": "granted.example.test", "reason": "docs"})
	a = waitKind(t, f.bundle.Proxy, KindAccess, 1)[0]
	ch80 := callAsync(ctx, s, "request_access", map[string]any{"host": "granted.example.test:80", "reason": "plain docs"})
	a80 := waitKind(t, f.bundle.Proxy, KindAccess, 2)[1]
	operatorCall(t, f, "POST", "/items/"+a.ID+"/approve", `{"reason":"ok for today"}`)
	operatorCall(t, f, "POST", "/items/"+a80.ID+"/approve", "")
	r = awaitTool(t, ch)
	if r.isError || r.out.Outcome != "approved" || !strings.Contains(r.text, "granted.example.test:443 is allowed") {
		t.Fatalf("approved request_access %+v", r)
	}
	awaitTool(t, ch80)
	if code, body := f.do(t, "POST", "https://granted.example.test/any/path", "hello"); code != 200 || body != "upstream POST /any/path" {
		t.Fatalf("granted host over CONNECT: %d %q", code, body)
	}
	if code, body := f.do(t, "DELETE", "http://granted.example.test/other", ""); code != 200 || body != "upstream DELETE /other" {
		t.Fatalf("granted host over plain HTTP: %d %q", code, body)
	}
	for _, u := range append(f.tlsUp.requests(), f.plainUp.requests()...) {
		if u.Host == "granted.example.test" && u.Authorization != "Bearer "+agentToken {
			t.Fatalf("granted host saw Authorization %q, want the agent's own", u.Authorization)
		}
	}
	code, body := operatorCall(t, f, "GET", "/grants", "")
	var gl GrantList
	json.Unmarshal([]byte(body), &gl)
	if code != 200 || len(gl.Grants) != 2 || gl.Grants[0].Host != "granted.example.test" || gl.Grants[0].Port != 443 ||
		gl.Grants[0].ID != a.ID || gl.Grants[0].Reason != "ok for today" || gl.Grants[1].Port != 80 || gl.Grants[1].Reason != "plain docs" {
		t.Fatalf("grants: %d %s", code, body)
	}
	// A granted host:port is no longer asked for.
	if r := callTool(ctx, s, "request_access", map[string]any{"host": "granted.example.test", "reason": "again"}); !r.isError || !strings.Contains(r.text, "already granted") {
		t.Fatalf("request_access of a granted host: %+v", r)
	}

	// Revoking ends them: the next request is refused.
	if code, body := operatorCall(t, f, "DELETE", "/grants", ""); code != 200 || body != "{\"revoked\":2}\n" {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code, _ := f.do(t, "GET", "http://granted.example.test/after", ""); code != 403 {
		t.Fatalf("revoked host answered %d", code)
	}
	f.bundle.Recorder.Flush()
	log := f.log.String()
	for _, want := range []string{`"verdict":"grant"`, `"verdict":"revoke"`, `"verdict":"ask"`, "question: which branch?", "access requested: docs"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}

	// request_access times out.
	f.bundle.Proxy.holds.timeout = 500 * time.Millisecond
	r = callTool(ctx, s, "request_access", map[string]any{"host": "slow.example.test", "reason": "r"})
	if !r.isError || r.out.Outcome != "timed_out" || !strings.Contains(r.text, "not decided within 500ms") {
		t.Fatalf("timed out request_access %+v", r)
	}
}

// An agent that hangs up on a waiting call ends its item.
func TestMCPHangUpEndsItem(t *testing.T) {
	f := newProxyFixture(t)
	f.bundle.Proxy.holds.timeout = time.Minute
	s := mcpSession(t, f.sup.URL)
	ctx, cancel := context.WithCancel(context.Background())
	ch := callAsync(ctx, s, "ask_operator", map[string]any{"question": "still there?"})
	q := waitKind(t, f.bundle.Proxy, KindQuestion, 1)[0]
	cancel()
	<-ch
	waitKind(t, f.bundle.Proxy, KindQuestion, 0)
	if code, _ := operatorCall(t, f, "POST", "/items/"+q.ID+"/answer", `{"text":"late"}`); code != 404 {
		t.Fatalf("answer after hang-up: %d", code)
	}
}

// request_access names one DNS host: what it refuses, it says why.
func TestMCPRequestAccessValidation(t *testing.T) {
	f := newProxyFixture(t)
	s := mcpSession(t, f.sup.URL)
	ctx := context.Background()
	for host, want := range map[string]string{
		"":                         "host is empty",
		"10.0.0.1":                 "IP address",
		"[::1]:443":                "IP address",
		"169.254.169.254:80":       "IP address",
		"*.example.com":            "wildcard",
		"https://x.example.com/":   "not a URL",
		"x.example.com/path":       "not a URL",
		"user@x.example.com":       "not a URL",
		"x.example.com:0":          "port from 1 to 65535",
		"x.example.com:99999":      "port from 1 to 65535",
		"localhost":                "not a DNS name",
		"bad host.example.com":     "not a DNS name",
		"api.example.test":         "already allowed by route api.example.test",
		"API.Example.Test.:443":    "already allowed by route api.example.test",
		"x.files.example.test":     "already allowed by route *.files.example.test",
		strings.Repeat("a.", 200):  "longer than",
		"x" + canary + ".evil.com": "carries the value of secret API_TOKEN",
	} {
		r := callTool(ctx, s, "request_access", map[string]any{"host": host, "reason": "r"})
		if r.err != nil || !r.isError || !strings.Contains(r.text, want) || strings.Contains(r.text, canary) {
			t.Errorf("request_access(%q): %+v, want an error saying %q", host, r, want)
		}
	}
	if r := callTool(ctx, s, "request_access", map[string]any{"host": "ok.example.com", "reason": " "}); !r.isError || !strings.Contains(r.text, "reason is empty") {
		t.Errorf("request_access without a reason: %+v", r)
	}
	if n := len(f.bundle.Proxy.Pending()); n != 0 {
		t.Fatalf("%d items pending after refusals", n)
	}
}
