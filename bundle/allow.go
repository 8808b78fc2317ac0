package bundle

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/bottleplan/bottleplan/plan"
)

// Policy is the proxy's allowlist: the plan's routes, compiled once. It is
// pure (no I/O) so it can be table-tested and fuzzed on its own.
//
// Matching rules:
//   - Hosts compare case-insensitively with one trailing dot ignored. A
//     route "api.example.com" matches exactly that name; "*.example.com"
//     matches strict subdomains ("a.example.com", "a.b.example.com") and
//     never "example.com" itself. IP literals never match: routes are DNS
//     names only (the manifest rejects IP routes).
//   - The port must be one of the route's Ports.
//   - The first route in plan order whose host and port match wins.
//   - Paths (on intercepted routes with matches) are matched after
//     normalizePath (path.go): percent-decoded once, ";" parameters and
//     dot segments resolved, empty segments dropped; a path that has no
//     single meaning (encoded "/", "\", ";" or "%", NUL, a ".." above
//     the root, bytes that are not UTF-8) is refused. The normalized path
//     is also the one sent upstream, so what was matched is what the
//     upstream reads.
//   - A prefix matches on a segment boundary: "/repos/acme" matches
//     "/repos/acme" and "/repos/acme/x", never "/repos/acmeevil"; a prefix
//     ending in "/" matches the paths that start with it.
type Policy struct {
	routes []plan.Route
}

// NewPolicy compiles routes. It reports a route that could never match
// (empty host, bad wildcard) as an error rather than silently ignoring it.
func NewPolicy(routes []plan.Route) (*Policy, error) {
	p := &Policy{}
	for i, r := range routes {
		h := normalizeHost(r.Host)
		base := strings.TrimPrefix(h, "*.")
		if base == "" || strings.Contains(base, "*") {
			return nil, fmt.Errorf("route %d: host %q is not a DNS name or *.name", i, r.Host)
		}
		if len(r.Ports) == 0 {
			return nil, fmt.Errorf("route %d (%s): no ports", i, r.Host)
		}
		r.Host = h
		p.routes = append(p.routes, r)
	}
	return p, nil
}

// Routes returns the compiled routes in plan order.
func (p *Policy) Routes() []plan.Route { return p.routes }

// normalizeHost lowercases the ASCII letters of h and drops one trailing
// dot. Only ASCII is folded: Unicode case mapping would turn, say, the
// Kelvin sign into "k" and let a name that is not the route's spelling
// match it.
func normalizeHost(h string) string {
	b := []byte(strings.TrimSuffix(h, "."))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// hostMatches reports whether the normalised request host matches the
// normalised route host.
func hostMatches(route, host string) bool {
	if host == "" {
		return false
	}
	if base, ok := strings.CutPrefix(route, "*."); ok {
		sub, found := strings.CutSuffix(host, "."+base)
		return found && sub != "" && !strings.HasSuffix(sub, ".")
	}
	return route == host
}

// Match finds the route for host and port. ok is false, with reason
// saying why in plain words, when no route allows it.
func (p *Policy) Match(host string, port int) (route *plan.Route, reason string, ok bool) {
	h := normalizeHost(host)
	if h == "" {
		return nil, "request has no host", false
	}
	if net.ParseIP(strings.Trim(h, "[]")) != nil {
		return nil, fmt.Sprintf("host %s is an IP address; only the plan's host names are allowed", h), false
	}
	if !validDNSName(h) {
		return nil, fmt.Sprintf("host %q is not a DNS name", h), false
	}
	hostSeen := false
	for i := range p.routes {
		r := &p.routes[i]
		if !hostMatches(r.Host, h) {
			continue
		}
		hostSeen = true
		for _, rp := range r.Ports {
			if rp == port {
				return r, "", true
			}
		}
	}
	if hostSeen {
		return nil, fmt.Sprintf("port %d is not allowed for host %s", port, h), false
	}
	return nil, fmt.Sprintf("host %s is not in the plan's egress routes", h), false
}

// CheckRequest applies route's matches to one request whose path is
// already normalized (normalizePath); a path that is not in normal form
// is refused rather than normalized a second time. An empty Matches
// allows every method and path; otherwise at least one Match must accept
// both the method and the path.
func CheckRequest(route *plan.Route, method, path string) (reason string, ok bool) {
	if len(route.Matches) == 0 {
		return "", true
	}
	if n, err := normalizePath(path); err != nil {
		return err.Error(), false
	} else if n != path {
		return "path is not in normal form", false
	}
	for _, m := range route.Matches {
		if methodOK(m.Methods, method) && pathOK(m.Paths, path) {
			return "", true
		}
	}
	// Not the path: the reason is part of the log's aggregation key
	// (aggregate.go), and the decision holds the path already.
	return fmt.Sprintf("%s is not allowed on this path by route %s", method, route.Host), false
}

func methodOK(methods []string, method string) bool {
	if len(methods) == 0 {
		return true
	}
	for _, m := range methods {
		if strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}

func pathOK(paths []plan.PathMatch, path string) bool {
	if len(paths) == 0 {
		return true
	}
	for _, pm := range paths {
		switch pm.Type {
		case "exact":
			if path == pm.Value {
				return true
			}
		case "prefix":
			if prefixMatches(pm.Value, path) {
				return true
			}
		}
	}
	return false
}

// prefixMatches reports whether path lies under prefix on a segment
// boundary: prefix itself, or prefix followed by "/" (a prefix that ends
// in "/" already marks its boundary).
func prefixMatches(prefix, path string) bool {
	rest, ok := strings.CutPrefix(path, prefix)
	return ok && (rest == "" || strings.HasSuffix(prefix, "/") || rest[0] == '/')
}

// validDNSName reports whether h (normalised) is dot-separated labels of
// 1..63 letters, digits, '-' or '_', at most 253 bytes in all. Anything
// else is refused before it can reach a resolver.
func validDNSName(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) == 0 || len(label) > 63 {
			return false
		}
		for _, c := range []byte(label) {
			ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return false
			}
		}
	}
	return true
}

// splitHostPort splits "host:port" (CONNECT authority or URL host) and
// fills defPort when the port is absent.
func splitHostPort(hostport string, defPort int) (string, int, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: the whole thing is the host.
		if strings.Contains(err.Error(), "missing port") {
			return strings.Trim(hostport, "[]"), defPort, nil
		}
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", portStr)
	}
	return host, port, nil
}
