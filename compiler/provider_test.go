package compiler

import (
	"testing"

	"github.com/bottleplan/bottleplan/bundle"
	"github.com/bottleplan/bottleplan/plan"
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

// TestProviderPlaceholderVariable: the agent's placeholder credential
// goes in the variable its CLI reads, whatever the host secret is
// called; the proxy injects the host secret named by auth_token.
// Regression: auth_token ANTHROPIC_TOKEN made the placeholder variable
// ANTHROPIC_TOKEN, which Claude Code never reads.
func TestProviderPlaceholderVariable(t *testing.T) {
	for name, tc := range map[string]struct {
		template, authToken, want string
	}{
		"claude oauth, other host name": {"claude", "ANTHROPIC_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"},
		"claude oauth, same name":       {"claude", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"},
		"claude api key":                {"claude", "WORK_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"},
		"codex, other host name":        {"codex", "MY_OPENAI", "OPENAI_API_KEY"},
	} {
		t.Run(name, func(t *testing.T) {
			m := baseManifest()
			ap := &m.Bottles["claude"].AgentProvider
			ap.Template, ap.AuthToken = tc.template, tc.authToken
			in := instance(t, mustCompile(t, m, Options{}), "plain")
			if got := in.GuestEnv[tc.want]; got != plan.GuestAuthPlaceholder {
				t.Errorf("guest_env[%s] = %q, want the placeholder %q (guest_env %v)", tc.want, got, plan.GuestAuthPlaceholder, in.GuestEnv)
			}
			if tc.authToken != tc.want {
				if v, ok := in.GuestEnv[tc.authToken]; ok {
					t.Errorf("guest_env[%s] = %q: the host secret's name is not a variable the agent reads", tc.authToken, v)
				}
			}
			var ref string
			for _, r := range in.Bundle.Proxy.Routes {
				if r.Auth != nil && (r.Host == "api.anthropic.com" || r.Host == "api.openai.com") {
					ref = r.Auth.TokenRef
				}
			}
			if ref != tc.authToken {
				t.Errorf("provider route injects %q, want the host secret %q", ref, tc.authToken)
			}
		})
	}
}
