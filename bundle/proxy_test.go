package bundle

import (
	"bufio"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

const (
	// canary is the real route token: it must reach the upstream and
	// never the log.
	canary = "canary-7f3a9c1e5b2d4068"
	// basicSecret is the Basic route's token (no "user:" part).
	basicSecret = "canary-basic-91e0f7a2"
	// agentToken is what the agent sends; it must never go upstream on a
	// route with auth.
	agentToken = "agent-own-token-5521"
	// heldToken is the token the supervised heldauth route injects.
	heldToken = "held-route-token-3318"
)

// proxyFixture is a bundle whose proxy, supervise endpoint and upstreams
// all listen on loopback.
type proxyFixture struct {
	proxy, sup *httptest.Server
	tlsUp      *upstream // every *.example.test:443
	plainUp    *upstream // plain.example.test:80
	client     *http.Client
	log        *syncBuffer
	instCA     *testCA
	bundle     *Bundle
}

// fixtureHoldTimeout is how long the fixture holds a request for the
// operator: short, so tests that only see a hold end do not wait.
const fixtureHoldTimeout = 300 * time.Millisecond

func testInstance() plan.Instance {
	return plan.Instance{
		Slug: "t1",
		Bundle: plan.Bundle{
			Proxy: plan.Proxy{Listen: "127.0.0.1:0", Routes: []plan.Route{
				{Host: "api.example.test", Ports: []int{443, 80}, Intercept: true, DLP: DLPBlock,
					Auth: &plan.RouteAuth{Scheme: "Bearer", TokenRef: "API_TOKEN"},
					Matches: []plan.Match{{
						Paths:   []plan.PathMatch{{Type: "prefix", Value: "/repos/acme/"}},
						Methods: []string{"GET", "POST"},
					}}},
				{Host: "basic.example.test", Ports: []int{443}, Intercept: true, DLP: DLPBlock,
					Auth: &plan.RouteAuth{Scheme: "Basic", TokenRef: "BASIC_TOKEN"}},
				{Host: "notoken.example.test", Ports: []int{443}, Intercept: true, DLP: DLPBlock,
					Auth: &plan.RouteAuth{Scheme: "Bearer", TokenRef: "MISSING_TOKEN"}},
				{Host: "redact.example.test", Ports: []int{443}, Intercept: true, DLP: DLPRedact,
					Matches: []plan.Match{{Methods: []string{"GET", "POST"}}}},
				{Host: "held.example.test", Ports: []int{443}, Intercept: true, DLP: DLPSupervise,
					Matches: []plan.Match{{Paths: []plan.PathMatch{{Type: "prefix", Value: "/ok/"}}}}},
				{Host: "heldauth.example.test", Ports: []int{443}, Intercept: true, DLP: DLPSupervise,
					Auth:    &plan.RouteAuth{Scheme: "Bearer", TokenRef: "HELD_TOKEN"},
					Matches: []plan.Match{{Paths: []plan.PathMatch{{Type: "prefix", Value: "/ok/"}}}}},
				// What the compiler makes of a route without auth or
				// matches: intercepted, so DLP can read it.
				{Host: "open.example.test", Ports: []int{443, 80}, Intercept: true, DLP: DLPBlock},
				{Host: "*.files.example.test", Ports: []int{443}, DLP: DLPBlock},
				{Host: "plain.example.test", Ports: []int{80}, DLP: DLPBlock},
			}},
			Supervise:       &plan.Supervise{Listen: "127.0.0.1:0"},
			SecretsFromHost: []string{"API_TOKEN", "BASIC_TOKEN", "MISSING_TOKEN", "HELD_TOKEN"},
		},
	}
}

func newProxyFixture(t *testing.T) *proxyFixture {
	t.Helper()
	f := &proxyFixture{log: &syncBuffer{}}
	upCA := newTestCA(t, "upstream test CA")
	f.instCA = newTestCA(t, "instance test CA")
	f.tlsUp = newUpstream(t, upCA, nil)
	f.plainUp = newUpstream(t, nil, nil)
	dialMap := map[string]string{"plain.example.test:80": f.plainUp.addr(), "open.example.test:80": f.plainUp.addr(),
		"granted.example.test:80": f.plainUp.addr()}
	// granted.example.test is no route: only a runtime grant reaches it.
	for _, h := range []string{"api", "basic", "notoken", "redact", "held", "heldauth", "open", "a.files", "granted"} {
		dialMap[h+".example.test:443"] = f.tlsUp.addr()
	}
	env := map[string]string{"API_TOKEN": canary, "BASIC_TOKEN": basicSecret, "HELD_TOKEN": heldToken}
	b, err := New(Options{
		Instance: testInstance(),
		CA:       f.instCA.ca,
		Getenv:   func(k string) string { return env[k] },
		Log:      f.log,
		Dial:     mapDial(dialMap),
		RootCAs:  upCA.pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Proxy.holds.timeout = fixtureHoldTimeout
	f.bundle = b
	f.proxy = httptest.NewServer(b.Proxy)
	t.Cleanup(f.proxy.Close)
	f.sup = httptest.NewServer(b.Supervise)
	t.Cleanup(f.sup.Close)

	// The agent trusts the instance CA (as SSL_CERT_FILE makes it) and,
	// for the blind tunnel test, the upstream's own CA.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(f.instCA.pem)
	roots.AppendCertsFromPEM(upCA.pem)
	pu, _ := url.Parse(f.proxy.URL)
	tr := &http.Transport{Proxy: http.ProxyURL(pu)}
	tr.TLSClientConfig = tlsConfigWithRoots(roots)
	f.client = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	t.Cleanup(func() { checkLogClean(t, f.log.String()) })
	return f
}

// checkLogClean fails when the decision log holds a secret value in any
// spelling, or a line that is not a complete decision.
func checkLogClean(t *testing.T, log string) {
	t.Helper()
	for _, secret := range []string{canary, basicSecret} {
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)),
			base64.StdEncoding.EncodeToString([]byte("x-access-token:" + secret))} {
			if strings.Contains(log, form) {
				t.Errorf("decision log contains a secret value:\n%s", log)
			}
		}
	}
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var d Decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Errorf("log line is not JSON: %s", sc.Text())
			continue
		}
		if d.Time.IsZero() || d.Instance != "t1" || d.Host == "" || d.Method == "" || d.Verdict == "" {
			t.Errorf("log line misses a field: %s", sc.Text())
		}
	}
}

// get sends method url through the proxy with the agent's own token.
func (f *proxyFixture) do(t *testing.T, method, rawURL, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+agentToken)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *proxyFixture) proxyAddr() string { return strings.TrimPrefix(f.proxy.URL, "http://") }

func TestProxyTunnelsAllowedRouteBlind(t *testing.T) {
	f := newProxyFixture(t)
	resp, err := f.client.Get("https://a.files.example.test/simple/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "upstream GET /simple/x" {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
	// A blind tunnel: the agent talks TLS with the upstream itself.
	if iss := resp.TLS.PeerCertificates[0].Issuer.CommonName; iss != "upstream test CA" {
		t.Fatalf("certificate issued by %q, want the upstream's own CA (tunnel not blind)", iss)
	}
	if !strings.Contains(f.log.String(), `"verdict":"allow","route":"*.files.example.test","reason":"tunnel"`) {
		t.Fatalf("no tunnel decision in log:\n%s", f.log.String())
	}
}

// An intercepted route without auth and without matches: any method and
// path go to the real upstream with the agent's own headers and no token
// injected, through TLS the bundle terminates, and DLP reads every
// request, so a secret cannot leave the way it could through a blind
// tunnel.
func TestProxyInterceptWithoutAuthOrMatches(t *testing.T) {
	f := newProxyFixture(t)
	req, _ := http.NewRequest("DELETE", "https://open.example.test/any/path?q=1", strings.NewReader("hello"))
	req.Header.Set("Authorization", "Bearer "+agentToken)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "upstream DELETE /any/path" {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
	if iss := resp.TLS.PeerCertificates[0].Issuer.CommonName; iss != "instance test CA" {
		t.Fatalf("leaf issued by %q, want the instance CA (route not intercepted)", iss)
	}
	want := seenRequest{Host: "open.example.test", Method: "DELETE", Path: "/any/path", RawQuery: "q=1",
		Authorization: "Bearer " + agentToken, Body: "hello"}
	if got := f.tlsUp.requests(); len(got) != 1 || got[0] != want {
		t.Fatalf("upstream saw %+v\nwant [%+v]", got, want)
	}
	if !strings.Contains(f.log.String(), `"route":"open.example.test","reason":"intercepted"`) {
		t.Fatalf("no intercepted decision in log:\n%s", f.log.String())
	}

	// A secret in the body, the headers or the URL is refused (dlp block)
	// and never reaches the upstream.
	leaks := map[string]func() *http.Request{
		"body": func() *http.Request {
			r, _ := http.NewRequest("POST", "https://open.example.test/upload", strings.NewReader("k="+canary))
			return r
		},
		"base64 header": func() *http.Request {
			r, _ := http.NewRequest("GET", "https://open.example.test/x", nil)
			r.Header.Set("X-Data", base64.StdEncoding.EncodeToString([]byte(canary)))
			return r
		},
		"query": func() *http.Request {
			r, _ := http.NewRequest("GET", "https://open.example.test/x?t="+basicSecret, nil)
			return r
		},
		"plain http": func() *http.Request {
			r, _ := http.NewRequest("POST", "http://open.example.test/upload", strings.NewReader(canary))
			return r
		},
	}
	for name, mk := range leaks {
		t.Run(name, func(t *testing.T) {
			resp, err := f.client.Do(mk())
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 403 || !strings.HasPrefix(string(b), "blocked: request carries the value of secret ") {
				t.Fatalf("got %d %q, want 403 blocked: request carries the value of secret ...", resp.StatusCode, b)
			}
		})
	}
	if n := len(f.tlsUp.requests()); n != 1 {
		t.Fatalf("TLS upstream saw %d requests, want only the first", n)
	}
	if n := len(f.plainUp.requests()); n != 0 {
		t.Fatalf("plain upstream saw %d requests", n)
	}
}

func TestProxyForwardsPlainHTTP(t *testing.T) {
	f := newProxyFixture(t)
	code, body := f.do(t, "GET", "http://plain.example.test/p?q=1", "")
	if code != 200 || body != "upstream GET /p" {
		t.Fatalf("got %d %q", code, body)
	}
	got := f.plainUp.requests()
	if len(got) != 1 || got[0].RawQuery != "q=1" || got[0].Host != "plain.example.test" {
		t.Fatalf("upstream saw %+v", got)
	}
	// A route without auth leaves the agent's own credential alone.
	if got[0].Authorization != "Bearer "+agentToken {
		t.Fatalf("upstream saw Authorization %q", got[0].Authorization)
	}
}

func TestProxyRefuses(t *testing.T) {
	tests := map[string]struct {
		connect string // CONNECT target, or
		url     string // absolute-form GET
		reason  string
	}{
		"unknown host connect": {connect: "evil.example.test:443", reason: "blocked: host evil.example.test is not in the plan's egress routes"},
		"unknown host http":    {url: "http://evil.example.test/x", reason: "blocked: host evil.example.test is not in the plan's egress routes"},
		"wrong port connect":   {connect: "a.files.example.test:8443", reason: "blocked: port 8443 is not allowed for host a.files.example.test"},
		"wrong port http":      {url: "http://plain.example.test:8080/", reason: "blocked: port 8080 is not allowed"},
		"wildcard apex":        {connect: "files.example.test:443", reason: "blocked: host files.example.test is not in"},
		"ip literal":           {connect: "127.0.0.1:443", reason: "blocked: host 127.0.0.1 is an IP address"},
		"auth over plain http": {url: "http://api.example.test/repos/acme/x", reason: "blocked: route api.example.test injects credentials only over https"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			var code int
			var body string
			if tc.connect != "" {
				code, body = rawConnect(t, f.proxyAddr(), tc.connect)
			} else {
				code, body = f.do(t, "GET", tc.url, "")
			}
			if code != http.StatusForbidden || !strings.HasPrefix(body, tc.reason) {
				t.Fatalf("got %d %q, want 403 %q...", code, body, tc.reason)
			}
			if n := len(f.tlsUp.requests()) + len(f.plainUp.requests()); n != 0 {
				t.Fatalf("upstreams saw %d requests", n)
			}
			if !strings.Contains(f.log.String(), `"verdict":"deny"`) {
				t.Fatalf("no deny decision logged:\n%s", f.log.String())
			}
		})
	}
}

func TestProxyRefusesOtherSchemesAndOriginForm(t *testing.T) {
	tests := map[string]struct {
		request string
		reason  string
	}{
		"ftp":         {"GET ftp://plain.example.test/x HTTP/1.1\r\nHost: plain.example.test\r\n\r\n", "blocked: scheme \"ftp\""},
		"origin form": {"GET /x HTTP/1.1\r\nHost: plain.example.test\r\n\r\n", "blocked: this is a forward proxy"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			c, err := net.Dial("tcp", f.proxyAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, tc.request)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 403 || !strings.HasPrefix(string(b), tc.reason) {
				t.Fatalf("got %d %q, want 403 %q...", resp.StatusCode, b, tc.reason)
			}
		})
	}
}

func TestProxyInterceptInjectsRealToken(t *testing.T) {
	f := newProxyFixture(t)
	req, _ := http.NewRequest("POST", "https://api.example.test/repos/acme/app/issues", strings.NewReader(`{"title":"x"}`))
	req.Header.Set("Authorization", "Bearer "+agentToken)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if iss := resp.TLS.PeerCertificates[0].Issuer.CommonName; iss != "instance test CA" {
		t.Fatalf("intercepted leaf issued by %q, want the instance CA", iss)
	}
	got := f.tlsUp.requests()
	if len(got) != 1 {
		t.Fatalf("upstream saw %d requests", len(got))
	}
	want := seenRequest{Host: "api.example.test", Method: "POST", Path: "/repos/acme/app/issues",
		Authorization: "Bearer " + canary, Body: `{"title":"x"}`}
	if got[0] != want {
		t.Fatalf("upstream saw %+v\nwant %+v", got[0], want)
	}
}

func TestProxyBasicAuthPairsTokenWithUser(t *testing.T) {
	f := newProxyFixture(t)
	if code, body := f.do(t, "GET", "https://basic.example.test/x", ""); code != 200 {
		t.Fatalf("got %d %q", code, body)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+basicSecret))
	if got := f.tlsUp.requests()[0].Authorization; got != want {
		t.Fatalf("upstream saw %q, want %q", got, want)
	}
}

func TestProxyInterceptEnforcesMatches(t *testing.T) {
	tests := map[string]struct {
		method, url string
		reason      string
	}{
		"method not allowed": {"DELETE", "https://api.example.test/repos/acme/app", "blocked: DELETE is not allowed on this path"},
		"path not allowed":   {"GET", "https://api.example.test/repos/other/app", "blocked: GET is not allowed on this path"},
		"dot dot escape":     {"GET", "https://api.example.test/repos/acme/../other/app", "blocked: GET is not allowed on this path"},
		"encoded dot dot":    {"GET", "https://api.example.test/repos/acme/%2e%2e/other", "blocked: GET is not allowed on this path"},
		"missing token":      {"GET", "https://notoken.example.test/x", "blocked: route notoken.example.test needs MISSING_TOKEN"},
		"secret in body":     {"POST", "https://api.example.test/repos/acme/app", "blocked: request carries the value of secret API_TOKEN"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newProxyFixture(t)
			body := ""
			if tc.method == "POST" {
				body = "leak " + canary
			}
			code, got := f.do(t, tc.method, tc.url, body)
			if code != http.StatusForbidden || !strings.HasPrefix(got, tc.reason) {
				t.Fatalf("got %d %q, want 403 %q...", code, got, tc.reason)
			}
			if n := len(f.tlsUp.requests()); n != 0 {
				t.Fatalf("upstream saw %d requests", n)
			}
		})
	}
}

func TestProxyInterceptRefusesHostFronting(t *testing.T) {
	f := newProxyFixture(t)
	req, _ := http.NewRequest("GET", "https://api.example.test/repos/acme/app", nil)
	req.Host = "evil.example.test"
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || !strings.HasPrefix(string(b), `blocked: the Host header does not match`) {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
	if n := len(f.tlsUp.requests()); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
}

func TestProxyRedactsSecrets(t *testing.T) {
	f := newProxyFixture(t)
	code, _ := f.do(t, "POST", "https://redact.example.test/upload/"+canary+"?t="+canary, "a "+canary+" b")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	got := f.tlsUp.requests()
	if len(got) != 1 {
		t.Fatalf("upstream saw %d requests", len(got))
	}
	want := seenRequest{Host: "redact.example.test", Method: "POST", Path: "/upload/[REDACTED]",
		RawQuery: "t=%5BREDACTED%5D", Authorization: "Bearer " + agentToken, Body: "a [REDACTED] b"}
	if got[0] != want {
		t.Fatalf("upstream saw %+v\nwant %+v", got[0], want)
	}
	if !strings.Contains(f.log.String(), `"verdict":"redact"`) {
		t.Fatalf("no redact decision:\n%s", f.log.String())
	}
}

// Regression: the agent's Authorization header was never scanned, so on a
// route without auth (where it is forwarded) a secret could leave in it.
func TestProxyScansAgentAuthorizationOnRoutesWithoutAuth(t *testing.T) {
	f := newProxyFixture(t)
	req, _ := http.NewRequest("GET", "https://redact.example.test/x", nil)
	req.Header.Set("Authorization", "Bearer "+canary)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := f.tlsUp.requests()
	if resp.StatusCode != 200 || len(got) != 1 || got[0].Authorization != "Bearer [REDACTED]" {
		t.Fatalf("status %d, upstream saw %+v", resp.StatusCode, got)
	}
	// On a route with auth the agent's header is dropped, not a leak.
	req, _ = http.NewRequest("GET", "https://api.example.test/repos/acme/x", nil)
	req.Header.Set("Authorization", "Bearer "+canary)
	resp, err = f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("auth route refused the agent's header: %d", resp.StatusCode)
	}
}

func TestProxySuperviseHoldsAndLists(t *testing.T) {
	f := newProxyFixture(t)
	code, body := f.do(t, "GET", "https://held.example.test/elsewhere", "")
	if code != 403 || body != "blocked: not approved within 300ms\n" {
		t.Fatalf("got %d %q", code, body)
	}
	code, body = f.do(t, "POST", "https://held.example.test/ok/x", canary)
	if code != 403 || body != "blocked: not approved within 300ms\n" {
		t.Fatalf("got %d %q", code, body)
	}
	if code, body = f.do(t, "GET", "https://held.example.test/ok/x", ""); code != 200 {
		t.Fatalf("allowed path: got %d %q", code, body)
	}
	f.do(t, "GET", "http://evil.example.test/", "")

	resp, err := http.Get(f.sup.URL + "/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sr SuperviseResponse
	if err := json.NewDecoder(resp.Body).Decode(&sr); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range sr.Held {
		got = append(got, h.Verdict+" "+h.Method+" "+h.Host+h.Path)
	}
	for _, d := range sr.Denied {
		got = append(got, fmt.Sprintf("%s %s %s%s x%d", d.Verdict, d.Method, d.Host, d.Path, d.Count))
	}
	// Each hold ended in a denial when no operator answered.
	want := []string{"hold GET held.example.test/elsewhere", "hold POST held.example.test/ok/x",
		"deny GET held.example.test/elsewhere x1", "deny POST held.example.test/ok/x x1", "deny GET evil.example.test/ x1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("supervise lists\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestProxyLogScrubsSecretInPath(t *testing.T) {
	f := newProxyFixture(t)
	// Denied on the api route (path outside the prefix): the path carries
	// the token and is logged, scrubbed.
	f.do(t, "GET", "https://api.example.test/x/"+canary, "")
	if !strings.Contains(f.log.String(), `"path":"/x/[REDACTED]"`) {
		t.Fatalf("path not scrubbed in log:\n%s", f.log.String())
	}
}
