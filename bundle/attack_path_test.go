package bundle

import (
	"net/http"
	"testing"
)

// Path tricks against a route whose matches allow GET under /repos/acme
// (no trailing slash: a segment boundary), under /files/ and exactly
// /user. The path is normalized once; what is matched is what the
// upstream gets, and a path that normalizes ambiguously is refused.
func TestAttackPathForms(t *testing.T) {
	tests := map[string]struct {
		target string
		want   string // the path the upstream gets; "" means refused
	}{
		"dot dot semicolon":            {"/repos/acme/..;/other", ""},
		"dot dot semicolon with param": {"/files/x/..;a=b/..;/user/../../admin", ""},
		"semicolon parameter dropped":  {"/repos/acme/app;jsessionid=1/issues", "/repos/acme/app/issues"},
		"semicolon on exact":           {"/user;x=1", "/user"},
		"semicolon hides prefix":       {"/repos/acme;/../admin", ""},
		"prefix sibling":               {"/repos/acmeevil/x", ""},
		"prefix sibling exact":         {"/repos/acmeevil", ""},
		"prefix itself":                {"/repos/acme", "/repos/acme"},
		"prefix child":                 {"/repos/acme/app", "/repos/acme/app"},
		"encoded dot segments":         {"/files/%2e%2e/admin", ""},
		"mixed encoded dot segments":   {"/files/.%2E/admin", ""},
		"double encoded dot segments":  {"/files/%252e%252e/admin", ""},
		"encoded dot dot semicolon":    {"/files/%2e%2e;/admin", ""},
		"encoded semicolon":            {"/files/x%3b/y", ""},
		"encoded slash":                {"/files%2Fadmin", ""},
		"encoded slash inside":         {"/files/a%2F..%2F..%2Fadmin", ""},
		"encoded backslash":            {"/files/..%5Cadmin", ""},
		"overlong utf-8 dot":           {"/files/%c0%ae%c0%ae/admin", ""},
		"nul":                          {"/files/x%00.txt", ""},
		"climbs above root":            {"/files/../../files/x", ""},
		"dot segments resolved inside": {"/files/a/./b/../c", "/files/a/c"},
		"double slash collapsed":       {"/files//x", "/files/x"},
		"encoded letters decoded":      {"/files/%61bc", "/files/abc"},
		"trailing slash kept":          {"/files/x/", "/files/x/"},
		"query left as is":             {"/files/x?a=%2e%2e%2F&b=..%3B", "/files/x?a=%2e%2e%2F&b=..%3B"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newAttackFixture(t)
			a := f.tunnel(t, "api.example.test")
			resp, body := a.roundTrip(t, "GET "+tc.target+" HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n")
			a.Close()
			reqs, seen := f.tlsUp.seen(t)
			if tc.want == "" {
				if resp.StatusCode != http.StatusForbidden || len(reqs) != 0 {
					t.Fatalf("got %d %q, want 403; upstream saw %s", resp.StatusCode, body, seen)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || len(reqs) != 1 || reqs[0].RequestURI != tc.want {
				t.Fatalf("got %d %q, want 200 with upstream path %s; upstream saw %s", resp.StatusCode, body, tc.want, seen)
			}
		})
	}
}
