package bundle

import (
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/plan"
)

// testRoutes is a plan-shaped route list used by the allowlist tests.
var testRoutes = []plan.Route{
	{Host: "api.github.com", Ports: []int{443}, Intercept: true, DLP: "block",
		Matches: []plan.Match{{
			Paths:   []plan.PathMatch{{Type: "prefix", Value: "/repos/acme/"}},
			Methods: []string{"GET", "POST"},
		}}},
	{Host: "pypi.org", Ports: []int{443}},
	{Host: "*.pythonhosted.org", Ports: []int{443, 8443}},
	{Host: "plain.example.com", Ports: []int{80, 443}},
}

func TestPolicyMatch(t *testing.T) {
	pol, err := NewPolicy(testRoutes)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		host      string
		port      int
		wantRoute string // "" means refused
		reason    string // substring of the refusal reason
	}{
		"exact host":                  {"api.github.com", 443, "api.github.com", ""},
		"exact host upper case":       {"API.GitHub.COM", 443, "api.github.com", ""},
		"exact host trailing dot":     {"pypi.org.", 443, "pypi.org", ""},
		"exact host wrong port":       {"pypi.org", 80, "", "port 80 is not allowed for host pypi.org"},
		"exact does not match sub":    {"www.pypi.org", 443, "", "not in the plan"},
		"exact does not match parent": {"github.com", 443, "", "not in the plan"},
		"suffix trick":                {"evilpypi.org", 443, "", "not in the plan"},
		"wildcard one level":          {"files.pythonhosted.org", 443, "*.pythonhosted.org", ""},
		"wildcard two levels":         {"a.b.pythonhosted.org", 8443, "*.pythonhosted.org", ""},
		"wildcard not apex":           {"pythonhosted.org", 443, "", "not in the plan"},
		"wildcard wrong port":         {"files.pythonhosted.org", 80, "", "port 80"},
		"wildcard suffix trick":       {"evilpythonhosted.org", 443, "", "not in the plan"},
		"wildcard empty label":        {".pythonhosted.org", 443, "", "not a DNS name"},
		"wildcard double dot":         {"a..pythonhosted.org", 443, "", "not a DNS name"},
		"second port":                 {"plain.example.com", 80, "plain.example.com", ""},
		"ip literal":                  {"140.82.112.5", 443, "", "IP address"},
		"ipv6 literal":                {"::1", 443, "", "IP address"},
		"empty host":                  {"", 443, "", "no host"},
		"junk host":                   {"pypi.org/evil", 443, "", "not a DNS name"},
		"unicode case fold":           {"\u212Aey.pythonhosted.org", 443, "", "not a DNS name"},
		"unknown host":                {"example.org", 443, "", "host example.org is not in the plan's egress routes"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, reason, ok := pol.Match(tc.host, tc.port)
			if tc.wantRoute == "" {
				if ok {
					t.Fatalf("Match(%q, %d) allowed by route %s, want refused", tc.host, tc.port, r.Host)
				}
				if !strings.Contains(reason, tc.reason) {
					t.Fatalf("reason %q, want it to contain %q", reason, tc.reason)
				}
				return
			}
			if !ok {
				t.Fatalf("Match(%q, %d) refused (%s), want route %s", tc.host, tc.port, reason, tc.wantRoute)
			}
			if r.Host != tc.wantRoute {
				t.Fatalf("Match(%q, %d) = route %s, want %s", tc.host, tc.port, r.Host, tc.wantRoute)
			}
		})
	}
}

func TestCheckRequest(t *testing.T) {
	route := &plan.Route{Host: "api.example.test", Ports: []int{443}, Intercept: true, Matches: []plan.Match{
		{Paths: []plan.PathMatch{{Type: "prefix", Value: "/repos/acme/"}}, Methods: []string{"GET", "POST"}},
		{Paths: []plan.PathMatch{{Type: "exact", Value: "/user"}}, Methods: []string{"GET"}},
		{Paths: []plan.PathMatch{{Type: "exact", Value: "/any-method"}}},
		{Methods: []string{"OPTIONS"}},
		{Paths: []plan.PathMatch{{Type: "prefix", Value: "/orgs/acme"}}, Methods: []string{"GET"}},
	}}
	tests := map[string]struct {
		method, path string
		ok           bool
	}{
		"prefix get":              {"GET", "/repos/acme/app", true},
		"prefix post":             {"POST", "/repos/acme/app/issues", true},
		"prefix lower method":     {"get", "/repos/acme/app", true},
		"prefix wrong method":     {"DELETE", "/repos/acme/app", false},
		"prefix itself":           {"GET", "/repos/acme/", true},
		"prefix without slash":    {"GET", "/repos/acme", false},
		"prefix sibling":          {"GET", "/repos/acmecorp/app", false},
		"other path":              {"GET", "/repos/other/app", false},
		"dot dot escape":          {"GET", "/repos/acme/../other/app", false},
		"dot segment":             {"GET", "/repos/acme/./app", false},
		"double slash":            {"GET", "/repos/acme//app", false},
		"trailing slash ok":       {"GET", "/repos/acme/app/", true},
		"backslash":               {"GET", "/repos/acme/..\\x", false},
		"exact":                   {"GET", "/user", true},
		"exact wrong method":      {"POST", "/user", false},
		"exact with suffix":       {"GET", "/user/emails", false},
		"exact with slash":        {"GET", "/user/", false},
		"exact any method":        {"PATCH", "/any-method", true},
		"method only any path":    {"OPTIONS", "/whatever/x", true},
		"relative path":           {"GET", "repos/acme/app", false},
		"empty path":              {"GET", "", false},
		"method only still clean": {"OPTIONS", "/a/../b", false},
		"boundary prefix itself":  {"GET", "/orgs/acme", true},
		"boundary prefix child":   {"GET", "/orgs/acme/x", true},
		"boundary prefix slash":   {"GET", "/orgs/acme/", true},
		"boundary prefix sibling": {"GET", "/orgs/acmeevil", false},
		"boundary sibling child":  {"GET", "/orgs/acme-evil/x", false},
		"not normalized param":    {"GET", "/repos/acme/x;y", false},
		"not normalized percent":  {"GET", "/repos/acme/%2e%2e", false},
		"not normalized dot semi": {"GET", "/repos/acme/..;/x", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reason, ok := CheckRequest(route, tc.method, tc.path)
			if ok != tc.ok {
				t.Fatalf("CheckRequest(%s %s) = %v (%s), want %v", tc.method, tc.path, ok, reason, tc.ok)
			}
			if !ok && reason == "" {
				t.Fatal("refused without a reason")
			}
		})
	}
}

func TestCheckRequestNoMatchesAllowsAll(t *testing.T) {
	route := &plan.Route{Host: "pypi.org", Ports: []int{443}}
	for _, p := range []string{"/", "/simple/x", "/a/../b"} {
		if reason, ok := CheckRequest(route, "DELETE", p); !ok {
			t.Errorf("route without matches refused DELETE %s: %s", p, reason)
		}
	}
}

func TestNewPolicyRejectsBadRoutes(t *testing.T) {
	tests := map[string]plan.Route{
		"empty host":      {Host: "", Ports: []int{443}},
		"bare wildcard":   {Host: "*.", Ports: []int{443}},
		"inner wildcard":  {Host: "a.*.example.com", Ports: []int{443}},
		"double wildcard": {Host: "*.*.example.com", Ports: []int{443}},
		"no ports":        {Host: "example.com"},
	}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := NewPolicy([]plan.Route{r}); err == nil {
				t.Fatalf("NewPolicy(%+v) accepted it", r)
			}
		})
	}
}

func TestSplitHostPort(t *testing.T) {
	tests := map[string]struct {
		in   string
		host string
		port int
		err  bool
	}{
		"host and port": {"a.example:8443", "a.example", 8443, false},
		"default port":  {"a.example", "a.example", 443, false},
		"ipv6":          {"[::1]:80", "::1", 80, false},
		"bad port":      {"a.example:http", "", 0, true},
		"port zero":     {"a.example:0", "", 0, true},
		"port too big":  {"a.example:70000", "", 0, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h, p, err := splitHostPort(tc.in, 443)
			if (err != nil) != tc.err {
				t.Fatalf("splitHostPort(%q) error %v, want error %v", tc.in, err, tc.err)
			}
			if !tc.err && (h != tc.host || p != tc.port) {
				t.Fatalf("splitHostPort(%q) = %q, %d; want %q, %d", tc.in, h, p, tc.host, tc.port)
			}
		})
	}
}
