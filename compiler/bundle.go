package compiler

import (
	"fmt"
	"sort"

	"github.com/bottleplan/bottleplan/plan"
	"github.com/bottleplan/bottleplan/schema"
)

// DLP actions.
const (
	dlpSupervise = "supervise"
	dlpBlock     = "block"
)

// compileBundle builds the sidecar's config: the egress proxy with its
// routes, the git gate (nil without repos), supervise (nil when off) and
// the host secret NAMEs the bundle is started with.
func compileBundle(base, bundleIP string, a *schema.Agent, b *schema.Bottle) plan.Bundle {
	out := plan.Bundle{
		ContainerName: base + "-bundle",
		Proxy: plan.Proxy{
			Listen: fmt.Sprintf("%s:%d", bundleIP, plan.ProxyPort),
			Routes: compileRoutes(b),
		},
		GitGate: compileGitGate(bundleIP, a, b),
	}
	if b.Supervise {
		out.Supervise = &plan.Supervise{
			Listen:      fmt.Sprintf("%s:%d", bundleIP, plan.SupervisePort),
			HoldTimeout: b.HoldTimeout.String(),
		}
	}
	out.SecretsFromHost = secretsFromHost(out, b)
	return out
}

// compileRoutes returns the proxy routes: the provider route first when
// the bottle does not declare the model API host, then the declared
// routes in manifest order.
//
// The provider route. An agent cannot work without its model API, and
// the agent never holds the auth_token value: the proxy injects it. So
// the compiler makes sure the template's API host (api.anthropic.com for
// claude, api.openai.com for codex) is routed:
//   - when the bottle declares no route for that exact host, one is put
//     first: port 443, the bottle's default DLP, and, when
//     agent_provider.auth_token is set, auth {scheme: Bearer, token_ref:
//     auth_token}. First, because the proxy takes the first route that
//     matches a request: a declared wildcard such as "*.anthropic.com"
//     must not shadow it and send the API calls without the token;
//   - when the bottle declares the host itself, its route is kept where
//     it is, as written, except that a route without auth gets the
//     auth_token injection above (otherwise the token would silently
//     never be used).
//
// The route is an ordinary route of the plan, so it shows in the plan
// file, in the review summary and in diffs like any declared one. The
// scheme is Bearer, which is what CLAUDE_CODE_OAUTH_TOKEN and
// OPENAI_API_KEY use; a bottle that needs another scheme declares the
// route with its own auth.
//
// Every route is intercepted, the provider route included, with or
// without auth and matches: the bundle terminates the agent's TLS with
// the instance CA, so each request is read whole and DLP
// (dlp.outbound_on_match, which every route carries) scans what leaves.
// A blind CONNECT tunnel would carry bytes the bundle cannot read, and
// the review's [dlp:...] on such a route would be a promise nothing
// keeps. The consequence: a client that pins its certificates, or a
// protocol other than TLS-wrapped HTTP/1.1 tunnelled through CONNECT,
// cannot use any route.
func compileRoutes(b *schema.Bottle) []plan.Route {
	pv := providerOf(b)
	auth := b.AgentProvider.AuthToken
	routes := make([]plan.Route, 0, len(b.Egress.Routes)+1)
	declared := false
	for _, r := range b.Egress.Routes {
		pr := plan.Route{
			Host:      r.Host,
			Ports:     append([]int(nil), r.Ports...),
			Matches:   copyMatches(r.Matches),
			DLP:       orDefault(r.DLP.OutboundOnMatch, defaultDLP(b)),
			Intercept: true,
			Websocket: r.Websocket,
		}
		if len(pr.Ports) == 0 {
			pr.Ports = []int{443}
		}
		if r.Auth != nil {
			pr.Auth = &plan.RouteAuth{Scheme: r.Auth.Scheme, TokenRef: r.Auth.TokenRef}
		}
		if r.Host == pv.apiHost {
			declared = true
			if pr.Auth == nil && auth != "" {
				pr.Auth = &plan.RouteAuth{Scheme: "Bearer", TokenRef: auth}
			}
		}
		routes = append(routes, pr)
	}
	if declared {
		return routes
	}
	pr := plan.Route{Host: pv.apiHost, Ports: []int{443}, DLP: defaultDLP(b), Intercept: true}
	if auth != "" {
		pr.Auth = &plan.RouteAuth{Scheme: "Bearer", TokenRef: auth}
	}
	return append([]plan.Route{pr}, routes...)
}

// defaultDLP is the DLP action of a route that sets none.
func defaultDLP(b *schema.Bottle) string {
	if b.Supervise {
		return dlpSupervise
	}
	return dlpBlock
}

func copyMatches(ms []schema.Match) []plan.Match {
	if len(ms) == 0 {
		return nil
	}
	out := make([]plan.Match, len(ms))
	for i, m := range ms {
		out[i].Methods = append([]string(nil), m.Methods...)
		for _, p := range m.Paths {
			out[i].Paths = append(out[i].Paths, plan.PathMatch{Type: p.Type, Value: p.Value})
		}
	}
	return out
}

// compileGitGate returns the gate's config, or nil when the bottle
// declares no repos. The commit identity is the bottle's git_gate.user
// overlaid per field by the agent's.
func compileGitGate(bundleIP string, a *schema.Agent, b *schema.Bottle) *plan.GitGate {
	if len(b.GitGate.Repos) == 0 {
		return nil
	}
	names := make([]string, 0, len(b.GitGate.Repos))
	for n := range b.GitGate.Repos {
		names = append(names, n)
	}
	sort.Strings(names)
	g := &plan.GitGate{
		Listen: fmt.Sprintf("%s:%d", bundleIP, plan.GitGatePort),
		User:   gitUser(a, b),
		Repos:  make([]plan.Repo, 0, len(names)),
	}
	for _, n := range names {
		r := b.GitGate.Repos[n]
		g.Repos = append(g.Repos, plan.Repo{
			Name:        n,
			Upstream:    r.URL,
			GateURL:     fmt.Sprintf("http://%s:%d/%s.git", bundleIP, plan.GitGatePort, n),
			Access:      orDefault(r.Access, "read-write"),
			KeyProvider: r.Key.Provider,
			KeyPath:     r.Key.Path,
			TokenRef:    r.Key.TokenRef,
			HostKey:     r.HostKey,
		})
	}
	return g
}

// gitUser overlays the agent's git identity on the bottle's, per field.
func gitUser(a *schema.Agent, b *schema.Bottle) plan.GitUser {
	u := plan.GitUser{Name: b.GitGate.User.Name, Email: b.GitGate.User.Email}
	if a.GitUser.Name != "" {
		u.Name = a.GitUser.Name
	}
	if a.GitUser.Email != "" {
		u.Email = a.GitUser.Email
	}
	return u
}

// secretsFromHost lists the host env NAMEs the bundle is started with:
// route tokens (the provider route included), repo tokens and the
// auth_token; sorted, unique, never nil.
func secretsFromHost(bu plan.Bundle, b *schema.Bottle) []string {
	set := map[string]bool{}
	for _, r := range bu.Proxy.Routes {
		if r.Auth != nil {
			set[r.Auth.TokenRef] = true
		}
	}
	if bu.GitGate != nil {
		for _, r := range bu.GitGate.Repos {
			if r.TokenRef != "" {
				set[r.TokenRef] = true
			}
		}
	}
	if b.AgentProvider.AuthToken != "" {
		set[b.AgentProvider.AuthToken] = true
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
