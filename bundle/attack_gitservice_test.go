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
	}{
		"repeated service":         {"GET", "/docs.git/info/refs?service=git-upload-pack&service=git-receive-pack", 403, ""},
		"repeated same service":    {"GET", "/docs.git/info/refs?service=git-upload-pack&service=git-upload-pack", 403, ""},
		"semicolon separator":      {"GET", "/docs.git/info/refs?service=git-upload-pack;service=git-receive-pack", 403, ""},
		"service on a post":        {"POST", "/docs.git/git-upload-pack?service=git-receive-pack", 403, ""},
		"encoded slash in path":    {"GET", "/docs.git/info%2Frefs?service=git-upload-pack", 403, ""},
		"dot segment in path":      {"GET", "/app.git/x/../info/refs?service=git-upload-pack", 403, ""},
		"other parameters dropped": {"GET", "/docs.git/info/refs?service=git-upload-pack&x=" + "%73ervice", 200, "service=git-upload-pack"},
		"one service":              {"GET", "/docs.git/info/refs?service=git-upload-pack", 200, "service=git-upload-pack"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newGateFixture(t)
			req, _ := http.NewRequest(tc.method, f.gate.URL+tc.path, strings.NewReader(""))
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
