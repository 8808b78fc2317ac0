package bundle

import (
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/plan"
)

// FuzzAllow checks the allowlist's invariants on arbitrary routes and
// requests: an allowed host is a DNS name equal to the route host or a
// strict subdomain of a wildcard's base, on one of its ports; matching
// ignores case; an allowed path starts with the rule's prefix at a
// segment boundary and holds no segment that could climb out of it.
func FuzzAllow(f *testing.F) {
	seeds := []struct {
		route, host string
		port        int
		method      string
		prefix      string
		path        string
	}{
		{"api.github.com", "api.github.com", 443, "GET", "/repos/acme/", "/repos/acme/app"},
		{"*.pythonhosted.org", "files.pythonhosted.org", 443, "POST", "/", "/x"},
		{"*.pythonhosted.org", "pythonhosted.org", 443, "GET", "/a/", "/a/../b"},
		{"*.example.com", "a.b.example.com.", 8443, "DELETE", "/v1/", "/v1//x"},
		{"example.com", "EXAMPLE.com", 80, "get", "/x", "/x/%2e%2e/y"},
		{"*.example.com", "evilexample.com", 443, "GET", "/", "/"},
		{"example.com", "127.0.0.1", 443, "GET", "/", "/"},
		{"example.com", "example.com", 443, "GET", "/repos/acme", "/repos/acmeevil"},
	}
	for _, s := range seeds {
		f.Add(s.route, s.host, s.port, s.method, s.prefix, s.path)
	}
	f.Fuzz(func(t *testing.T, routeHost, host string, port int, method, prefix, path string) {
		route := plan.Route{Host: routeHost, Ports: []int{443, 8443}, Intercept: true,
			Matches: []plan.Match{{Paths: []plan.PathMatch{{Type: "prefix", Value: prefix}}, Methods: []string{"GET"}}}}
		pol, err := NewPolicy([]plan.Route{route})
		if err != nil {
			return
		}
		r, reason, ok := pol.Match(host, port)
		if !ok {
			if r != nil || reason == "" {
				t.Fatalf("refusal must have no route and a reason: %v %q", r, reason)
			}
		} else {
			h := normalizeHost(host)
			if !validDNSName(h) {
				t.Fatalf("allowed %q, not a DNS name", host)
			}
			if port != 443 && port != 8443 {
				t.Fatalf("allowed port %d not in route ports", port)
			}
			rh := normalizeHost(routeHost)
			if base, wild := strings.CutPrefix(rh, "*."); wild {
				if !strings.HasSuffix(h, "."+base) || len(h) <= len(base)+1 {
					t.Fatalf("wildcard %q allowed %q", routeHost, host)
				}
			} else if h != rh {
				t.Fatalf("route %q allowed %q", routeHost, host)
			}
		}
		if _, _, ok2 := pol.Match(strings.ToUpper(host), port); ok2 != ok && strings.ToUpper(host) != host {
			// Upper-casing non-ASCII text can change its bytes in ways
			// lower-casing does not undo; only ASCII must be invariant.
			if isASCII(host) {
				t.Fatalf("Match(%q) = %v but Match(upper) = %v", host, ok, ok2)
			}
		}

		if _, ok := CheckRequest(r0(pol), method, path); ok {
			if !strings.EqualFold(method, "GET") {
				t.Fatalf("method %q allowed by a GET-only rule", method)
			}
			rest, under := strings.CutPrefix(path, prefix)
			if !under || !(rest == "" || strings.HasSuffix(prefix, "/") || rest[0] == '/') {
				t.Fatalf("path %q allowed outside prefix %q or off a segment boundary", path, prefix)
			}
			for _, seg := range strings.Split(path, "/") {
				if seg == ".." || seg == "." {
					t.Fatalf("path %q with dot segments allowed", path)
				}
			}
			if strings.Contains(path, "//") {
				t.Fatalf("path %q with empty segments allowed", path)
			}
		}
	})
}

func r0(p *Policy) *plan.Route { return &p.Routes()[0] }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
