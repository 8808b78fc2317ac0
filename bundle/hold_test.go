package bundle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// result is what the agent got for one request.
type result struct {
	code int
	body string
	err  error
}

// doAsync sends the request from the agent's side and delivers what it
// got on the returned channel.
func (f *proxyFixture) doAsync(ctx context.Context, method, rawURL, body string) <-chan result {
	out := make(chan result, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, method, rawURL, strings.NewReader(body))
		if err != nil {
			out <- result{err: err}
			return
		}
		resp, err := f.client.Do(req)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- result{code: resp.StatusCode, body: string(b)}
	}()
	return out
}

// waitPending waits until n requests are held and returns them.
func waitPending(t *testing.T, p *Proxy, n int) []Item {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := p.Pending()
		if len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests held, want %d: %+v", len(got), n, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// operatorPost sends a decision to the operator API.
func operatorPost(t *testing.T, op http.Handler, path, reason string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(DecisionRequest{Reason: reason})
	rec := httptest.NewRecorder()
	op.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(string(body))))
	return rec.Code, rec.Body.String()
}

func awaitResult(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("the held request was never answered")
	}
	return result{}
}

func TestHoldEndsAsTheOperatorDecides(t *testing.T) {
	tests := map[string]struct {
		decision string // "approve", "deny" or "" (let it time out)
		reason   string
		wantCode int
		wantBody string
	}{
		"approve":                   {decision: "approve", wantCode: 200, wantBody: "upstream POST /elsewhere"},
		"deny with a reason":        {decision: "deny", reason: "not this one", wantCode: 403, wantBody: "blocked: denied by operator: not this one\n"},
		"deny without a reason":     {decision: "deny", wantCode: 403, wantBody: "blocked: denied by operator: no reason given\n"},
		"deny with a secret reason": {decision: "deny", reason: "leaks " + canary, wantCode: 403, wantBody: "blocked: denied by operator: leaks [REDACTED]\n"},
		"timeout":                   {wantCode: 403, wantBody: "blocked: not approved within 1s\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			f.bundle.Proxy.holds.timeout = time.Second
			if tc.decision != "" {
				f.bundle.Proxy.holds.timeout = time.Minute
			}
			res := f.doAsync(context.Background(), "POST", "https://heldauth.example.test/elsewhere", "the payload")
			held := waitPending(t, f.bundle.Proxy, 1)[0]
			if held.Method != "POST" || held.Host != "heldauth.example.test" || held.Path != "/elsewhere" ||
				held.BodyBytes != len("the payload") || !strings.Contains(held.Reason, "not allowed") || len(held.ID) != 16 {
				t.Fatalf("held %+v", held)
			}
			if tc.decision != "" {
				if code, body := operatorPost(t, f.bundle.Operator, "/items/"+held.ID+"/"+tc.decision, tc.reason); code != 200 {
					t.Fatalf("operator %s: %d %s", tc.decision, code, body)
				}
			}
			r := awaitResult(t, res)
			if r.code != tc.wantCode || r.body != tc.wantBody {
				t.Fatalf("agent got %d %q, want %d %q", r.code, r.body, tc.wantCode, tc.wantBody)
			}
			got := f.tlsUp.requests()
			if tc.decision == "approve" {
				want := seenRequest{Host: "heldauth.example.test", Method: "POST", Path: "/elsewhere",
					Authorization: "Bearer " + heldToken, Body: "the payload"}
				if len(got) != 1 || got[0] != want {
					t.Fatalf("upstream saw %+v, want %+v", got, want)
				}
			} else if len(got) != 0 {
				t.Fatalf("upstream saw %+v", got)
			}
			if n := len(f.bundle.Proxy.Pending()); n != 0 {
				t.Fatalf("%d still held after the hold ended", n)
			}
			// A decided ID decides nothing more.
			if code, _ := operatorPost(t, f.bundle.Operator, "/items/"+held.ID+"/approve", ""); code != 404 {
				t.Fatalf("second decision on %s: %d, want 404", held.ID, code)
			}
		})
	}
}

func TestHoldSecretInBodyIsApprovedWhole(t *testing.T) {
	f := newProxyFixture(t)
	f.bundle.Proxy.holds.timeout = time.Minute
	res := f.doAsync(context.Background(), "POST", "https://heldauth.example.test/ok/x", "a "+canary+" b")
	held := waitPending(t, f.bundle.Proxy, 1)[0]
	if !strings.Contains(held.Reason, "secret API_TOKEN") || strings.Contains(held.Reason, canary) {
		t.Fatalf("held reason %q", held.Reason)
	}
	operatorPost(t, f.bundle.Operator, "/items/"+held.ID+"/approve", "")
	if r := awaitResult(t, res); r.code != 200 {
		t.Fatalf("agent got %d %q", r.code, r.body)
	}
	if got := f.tlsUp.requests(); len(got) != 1 || got[0].Body != "a "+canary+" b" {
		t.Fatalf("upstream saw %+v", got)
	}
}

func TestHoldListIsScrubbed(t *testing.T) {
	f := newProxyFixture(t)
	f.bundle.Proxy.holds.timeout = time.Minute
	f.doAsync(context.Background(), "GET", "https://heldauth.example.test/x/"+canary, "")
	waitPending(t, f.bundle.Proxy, 1)
	rec := httptest.NewRecorder()
	f.bundle.Operator.ServeHTTP(rec, httptest.NewRequest("GET", "/items", nil))
	if strings.Contains(rec.Body.String(), canary) || !strings.Contains(rec.Body.String(), `"path": "/x/[REDACTED]"`) &&
		!strings.Contains(rec.Body.String(), `"path":"/x/[REDACTED]"`) {
		t.Fatalf("operator list:\n%s", rec.Body.String())
	}
}

func TestHoldClientHangsUp(t *testing.T) {
	f := newProxyFixture(t)
	f.bundle.Proxy.holds.timeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	res := f.doAsync(ctx, "GET", "https://heldauth.example.test/gone", "")
	held := waitPending(t, f.bundle.Proxy, 1)[0]
	cancel()
	<-res
	waitPending(t, f.bundle.Proxy, 0)
	if code, _ := operatorPost(t, f.bundle.Operator, "/items/"+held.ID+"/approve", ""); code != 404 {
		t.Fatalf("approve after hang-up: %d, want 404", code)
	}
	if len(f.tlsUp.requests()) != 0 {
		t.Fatalf("upstream saw %+v", f.tlsUp.requests())
	}
	f.bundle.Recorder.Flush()
	if !strings.Contains(f.log.String(), "client hung up while held for supervision") ||
		!strings.Contains(f.log.String(), `"id":"`+held.ID+`"`) {
		t.Fatalf("hang-up not logged with the ID:\n%s", f.log.String())
	}
}

func TestHoldUnknownID(t *testing.T) {
	f := newProxyFixture(t)
	code, body := operatorPost(t, f.bundle.Operator, "/items/nosuchid/deny", "x")
	if code != 404 || !strings.Contains(body, "no pending item with that ID") {
		t.Fatalf("got %d %s", code, body)
	}
}

// Held requests give their inspection slots back, and past
// maxHeldRequests a new one is refused at once: holds neither starve
// uploads nor pile up.
func TestAttackExhaustHeldRequests(t *testing.T) {
	f := newProxyFixture(t)
	f.bundle.Proxy.holds.timeout = time.Minute
	var results []<-chan result
	for i := range maxHeldRequests {
		results = append(results, f.doAsync(context.Background(), "POST", fmt.Sprintf("https://heldauth.example.test/held/%d", i), "body"))
	}
	held := waitPending(t, f.bundle.Proxy, maxHeldRequests)
	start := time.Now()
	code, body := f.do(t, "POST", "https://heldauth.example.test/one/more", "body")
	if code != 403 || !strings.Contains(body, "too many requests held for supervision") {
		t.Fatalf("hold past the cap: %d %q", code, body)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("the refusal past the cap waited %v", time.Since(start))
	}
	// Every inspection slot is free: an upload on another route passes.
	if code, body := f.do(t, "POST", "https://redact.example.test/upload", "x"); code != 200 {
		t.Fatalf("upload while %d are held: %d %q", maxHeldRequests, code, body)
	}
	for _, h := range held {
		operatorPost(t, f.bundle.Operator, "/items/"+h.ID+"/deny", "")
	}
	for _, r := range results {
		if got := awaitResult(t, r); got.code != 403 {
			t.Fatalf("held request answered %d %q", got.code, got.body)
		}
	}
}

// The operator API is served on its unix socket, mode 0600, and on no
// TCP listener.
func TestOperatorServedOnUnixSocketOnly(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "run", "operator.sock")
	b, err := New(Options{Instance: testInstance(), CA: newTestCA(t, "ca").ca,
		Getenv: func(string) string { return "" }, OperatorSocket: sock})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range b.Listeners() {
		if l.Handler == b.Operator {
			t.Fatalf("operator API on TCP listener %s", l.Name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{}, 8)
	go func() { done <- b.Serve(ctx, func(string, string) { ready <- struct{}{} }) }()
	t.Cleanup(func() { cancel(); <-done })
	for range 3 { // proxy, supervise, operator
		<-ready
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v %v", fi, err)
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := c.Get("http://operator/items")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "{\"items\":[]}\n" {
		t.Fatalf("GET /items: %d %q", resp.StatusCode, body)
	}
}
