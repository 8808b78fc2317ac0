package bundle

import (
	"net/url"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bottleplan/bottleplan/plan"
)

// FuzzNormalizePath checks normalizePath on arbitrary escaped paths: an
// accepted path is in normal form (absolute, no dot or empty segments,
// no ";", "%", "\" or control bytes, UTF-8), normalizing it again,
// as it is or as the upstream gets it encoded, changes nothing; it is
// what path.Clean makes of the decoded input when no ";" is involved;
// and a route prefix accepts it only at a segment boundary.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []struct{ path, prefix string }{
		{"/repos/acme/app", "/repos/acme"},
		{"/repos/acmeevil", "/repos/acme"},
		{"/repos/acme/..;/other", "/repos/acme/"},
		{"/a/%2e%2e/b", "/a"},
		{"/a/%252e/b", "/"},
		{"//a/./b/../c/", "/a/"},
		{"/a;x=1/b;c/d", "/a/b"},
		{"/%c0%ae/x", "/x"},
		{"/a%2Fb", "/a"},
		{"/..", "/"},
		{"/été/%C3%A9", "/été"},
	} {
		f.Add(s.path, s.prefix)
	}
	f.Fuzz(func(t *testing.T, in, prefix string) {
		out, err := normalizePath(in)
		if err != nil {
			if out != "" {
				t.Fatalf("normalizePath(%q) = %q with error %v", in, out, err)
			}
			return
		}
		if !strings.HasPrefix(out, "/") || strings.Contains(out, "//") || strings.ContainsAny(out, "%;\\") || !utf8.ValidString(out) {
			t.Fatalf("normalizePath(%q) = %q, not in normal form", in, out)
		}
		for _, seg := range strings.Split(out[1:], "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("normalizePath(%q) = %q keeps a dot segment", in, out)
			}
		}
		for _, c := range []byte(out) {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("normalizePath(%q) = %q keeps a control byte", in, out)
			}
		}
		if again, err := normalizePath(out); err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
		enc := (&url.URL{Path: out}).EscapedPath()
		if again, err := normalizePath(enc); err != nil || again != out {
			t.Fatalf("upstream spelling %q of %q normalizes to %q, %v", enc, out, again, err)
		}
		if !strings.Contains(in, ";") {
			dec, err := url.PathUnescape(in)
			if err != nil {
				t.Fatalf("accepted %q that does not unescape: %v", in, err)
			}
			if c := path.Clean(dec); strings.TrimSuffix(c, "/") != strings.TrimSuffix(out, "/") {
				t.Fatalf("normalizePath(%q) = %q, path.Clean of the decoded path is %q", in, out, c)
			}
		}
		route := &plan.Route{Host: "h.example", Matches: []plan.Match{{Paths: []plan.PathMatch{{Type: "prefix", Value: prefix}}}}}
		if _, ok := CheckRequest(route, "GET", out); ok && prefix != "" {
			rest, under := strings.CutPrefix(out, prefix)
			if !under || !(rest == "" || strings.HasSuffix(prefix, "/") || rest[0] == '/') {
				t.Fatalf("prefix %q accepted %q off a segment boundary", prefix, out)
			}
		}
	})
}
