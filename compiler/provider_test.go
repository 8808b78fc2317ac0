package compiler

import (
	"testing"

	"github.com/bottleplan/bottleplan/bundle"
	"github.com/bottleplan/bottleplan/schema"
)

// TestProviderRouteNotShadowedByWildcard: the proxy takes the first route
// that matches, so a declared "*.anthropic.com" placed before the
// provider route would send API calls without the token. Checked with
// the bundle's own matcher.
func TestProviderRouteNotShadowedByWildcard(t *testing.T) {
	m := baseManifest()
	m.Bottles["claude"].Egress.Routes = []schema.Route{
		{Host: "*.anthropic.com", Ports: []int{443}, DLP: schema.DLP{OutboundOnMatch: "block"}},
	}
	in := instance(t, mustCompile(t, m, Options{}), "plain")
	pol, err := bundle.NewPolicy(in.Bundle.Proxy.Routes)
	if err != nil {
		t.Fatal(err)
	}
	r, reason, ok := pol.Match("api.anthropic.com", 443)
	if !ok {
		t.Fatalf("api.anthropic.com:443 refused: %s", reason)
	}
	if r.Auth == nil || r.Auth.TokenRef != "CLAUDE_CODE_OAUTH_TOKEN" {
		t.Errorf("api.anthropic.com matched route %+v: the token would not be injected", r)
	}
	if r, _, ok := pol.Match("console.anthropic.com", 443); !ok || r.Host != "*.anthropic.com" {
		t.Errorf("the declared wildcard no longer matches its other hosts: %+v", r)
	}
}
