package bundle

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

// Runtime grants: an access request the operator approves adds a route
// for that one host and port to the live proxy until the bundle
// container goes or the operator revokes every grant. A granted route
// is the most guarded kind there is: no auth (the proxy injects no
// token, so no secret of the host's goes to a host the plan never
// named), DLP block, every path and method, intercepted (so DLP reads
// every request), and the dial still goes through the SSRF checks
// (dial.go) like every route's. Both request forms (CONNECT and
// absolute-form) find it through Proxy.admit, and the CA mints for it
// (canames.go) only while it is granted.

// grants are the live runtime grants, by "host:port".
type grants struct {
	mu sync.RWMutex
	m  map[string]grantEntry
}

type grantEntry struct {
	grant Grant
	route *plan.Route
}

func grantKey(host string, port int) string { return host + ":" + strconv.Itoa(port) }

// route returns the granted route for host (normalized) and port.
func (g *grants) route(host string, port int) (*plan.Route, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	e, ok := g.m[grantKey(host, port)]
	if !ok {
		return nil, false
	}
	r := *e.route
	return &r, true
}

// hasHost reports whether host (normalized) is granted on any port.
func (g *grants) hasHost(host string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, e := range g.m {
		if e.grant.Host == host {
			return true
		}
	}
	return false
}

// add grants gr; the caller checked the bound and the host.
func (g *grants) add(gr Grant) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]grantEntry{}
	}
	k := grantKey(gr.Host, gr.Port)
	if _, ok := g.m[k]; !ok && len(g.m) >= maxGrants {
		return fmt.Errorf("this bundle has %d runtime grants already, the most it keeps; revoke them (bottleplan apply, or DELETE /grants) or add the host to the manifest", maxGrants)
	}
	g.m[k] = grantEntry{grant: gr, route: &plan.Route{Host: gr.Host, Ports: []int{gr.Port}, DLP: DLPBlock, Intercept: true}}
	return nil
}

// list returns the grants, oldest first.
func (g *grants) list() []Grant {
	g.mu.RLock()
	out := make([]Grant, 0, len(g.m))
	for _, e := range g.m {
		out = append(out, e.grant)
	}
	g.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Granted.Equal(out[j].Granted) {
			return out[i].Granted.Before(out[j].Granted)
		}
		return grantKey(out[i].Host, out[i].Port) < grantKey(out[j].Host, out[j].Port)
	})
	return out
}

// revokeAll removes every grant and returns them.
func (g *grants) revokeAll() []Grant {
	gs := g.list()
	g.mu.Lock()
	g.m = nil
	g.mu.Unlock()
	return gs
}

// parseAccessHost checks the host[:port] an agent asks access to: a DNS
// name (no IP literal, no wildcard), an optional port (443 when absent),
// and not a host the plan's routes already allow on that port. It
// returns the normalized host and the port, or an error that tells the
// agent what to send instead.
func (p *Proxy) parseAccessHost(s string) (string, int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", 0, fmt.Errorf("host is empty: give a DNS name such as api.example.com, with :port when it is not 443")
	}
	if strings.Contains(s, "://") || strings.ContainsAny(s, "/?#@") {
		return "", 0, fmt.Errorf("host must be a bare DNS name with an optional :port, not a URL")
	}
	host, port, err := splitHostPort(s, 443)
	if err != nil {
		return "", 0, fmt.Errorf("host is not host[:port] with a port from 1 to 65535")
	}
	host = normalizeHost(host)
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil || net.ParseIP(strings.Trim(host, "[]")) != nil {
		return "", 0, fmt.Errorf("host is an IP address; only DNS names can be granted")
	}
	if strings.Contains(host, "*") {
		return "", 0, fmt.Errorf("host is a wildcard; ask for each DNS name on its own")
	}
	if !validDNSName(host) || !strings.Contains(host, ".") {
		return "", 0, fmt.Errorf("host is not a DNS name (letters, digits, '-', '_' in dot-separated labels, at least two)")
	}
	if r, _, ok := p.policy.Match(host, port); ok {
		return "", 0, fmt.Errorf("%s:%d is already allowed by route %s: use it, no access request is needed", host, port, r.Host)
	}
	if _, ok := p.grants.route(host, port); ok {
		return "", 0, fmt.Errorf("%s:%d is already granted: use it, no access request is needed", host, port)
	}
	return host, port, nil
}

// mayMint reports whether the CA may mint for host now: a host of the
// plan's routes or of a live grant (canames.go).
func (p *Proxy) mayMint(host string) bool {
	h := normalizeHost(host)
	for _, r := range p.policy.Routes() {
		if hostMatches(r.Host, h) {
			return true
		}
	}
	return p.grants.hasHost(h)
}

// grant adds the access item it as a runtime grant and logs it; it runs
// under the item store's lock, before the agent hears "approved".
func (p *Proxy) grant(it Item, reason string) error {
	host, port, err := splitHostPort(it.Host, 443)
	if err != nil {
		return err
	}
	if reason == "" {
		reason = it.Reason
	}
	gr := Grant{Host: host, Port: port, ID: it.ID, Reason: capField(p.secrets.scrub(reason)), Granted: time.Now().UTC()}
	if err := p.grants.add(gr); err != nil {
		return err
	}
	p.rec.Record(Decision{Daemon: "supervise", Verdict: VerdictGrant, Host: host, Port: port, Method: "GRANT", Route: host,
		Reason: "runtime grant approved by operator: " + gr.Reason, ID: it.ID})
	return nil
}

// stillAllowed reports whether host:port is still a route or a live
// grant: a tunnel opened under a grant serves no request once the grant
// is revoked.
func (p *Proxy) stillAllowed(host string, port int) bool {
	if _, _, ok := p.policy.Match(host, port); ok {
		return true
	}
	_, ok := p.grants.route(host, port)
	return ok
}

// Grants lists the live runtime grants, oldest first.
func (p *Proxy) Grants() []Grant { return p.grants.list() }

// RevokeGrants removes every runtime grant, logs each, and returns how
// many there were. A tunnel already open to a granted host serves no
// further request (serveInner), and no new one is admitted.
func (p *Proxy) RevokeGrants() int {
	gs := p.grants.revokeAll()
	for _, g := range gs {
		p.rec.Record(Decision{Daemon: "supervise", Verdict: VerdictRevoke, Host: g.Host, Port: g.Port, Method: "REVOKE", Route: g.Host,
			Reason: "runtime grant revoked by operator", ID: g.ID})
	}
	return len(gs)
}
