package bundle

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The gate acts on exactly one service value, and what it forwards is
// what it checked: git http-backend takes the last of several service=
// parameters, so a read repo would advertise receive-pack if the gate
// checked the first.
func TestAttackGitServiceRepeated(t *testing.T) {
	tests := map[string]struct {
		method, path string
		code         int
		query        string // the query the upstream gets when allowed
		upgrade      bool   // the request asks for a protocol upgrade
	}{
		"repeated service":         {"GET", "/docs.git/info/refs?service=git-upload-pack&service=git-receive-pack", 403, "", false},
		"repeated same service":    {"GET", "/docs.git/info/refs?service=git-upload-pack&service=git-upload-pack", 403, "", false},
		"semicolon separator":      {"GET", "/docs.git/info/refs?service=git-upload-pack;service=git-receive-pack", 403, "", false},
		"service on a post":        {"POST", "/docs.git/git-upload-pack?service=git-receive-pack", 403, "", false},
		"encoded slash in path":    {"GET", "/docs.git/info%2Frefs?service=git-upload-pack", 403, "", false},
		"dot segment in path":      {"GET", "/app.git/x/../info/refs?service=git-upload-pack", 403, "", false},
		"other parameters dropped": {"GET", "/docs.git/info/refs?service=git-upload-pack&x=%73ervice", 200, "service=git-upload-pack", false},
		"one service":              {"GET", "/docs.git/info/refs?service=git-upload-pack", 200, "service=git-upload-pack", false},
		"protocol upgrade":         {"GET", "/docs.git/info/refs?service=git-upload-pack", 403, "", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newGateFixture(t)
			req, _ := http.NewRequest(tc.method, f.gate.URL+tc.path, strings.NewReader(""))
			if tc.upgrade {
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "websocket")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := f.up.requests()
			if resp.StatusCode != tc.code {
				t.Fatalf("got %d %q, want %d; upstream saw %+v", resp.StatusCode, b, tc.code, got)
			}
			if tc.code != 200 {
				if len(got) != 0 || !strings.HasPrefix(string(b), "blocked: ") {
					t.Fatalf("got %q; upstream saw %+v", b, got)
				}
				return
			}
			if len(got) != 1 || got[0].RawQuery != tc.query {
				t.Fatalf("upstream saw %+v, want query %q", got, tc.query)
			}
		})
	}
}
