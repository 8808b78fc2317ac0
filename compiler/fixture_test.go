package compiler

import (
	"fmt"
	"testing"

	"github.com/bottleplan/bottleplan/plan"
	"github.com/bottleplan/bottleplan/schema"
)

// baseManifest is a small resolved manifest, the shape schema.Load
// returns: a claude bottle, a dev bottle extending it with every env
// mode, two repos, routes and supervise, and one agent in each.
func baseManifest() *schema.Manifest {
	claude := &schema.Bottle{
		Name:  "claude",
		Chain: []string{"claude"},
		AgentProvider: schema.AgentProvider{
			Template: "claude", AuthToken: "CLAUDE_CODE_OAUTH_TOKEN",
			Image: "bottleplan/agent-claude:1",
		},
		Env:       map[string]schema.EnvValue{},
		GitGate:   schema.GitGate{Repos: map[string]schema.Repo{}},
		Resources: &schema.Resources{Pids: 4096},
		Runtime:   "auto", Backend: "docker",
	}
	dev := &schema.Bottle{
		Name:  "dev",
		Chain: []string{"claude", "dev"},
		AgentProvider: schema.AgentProvider{
			Template: "claude", AuthToken: "CLAUDE_CODE_OAUTH_TOKEN",
			Image: "bottleplan/agent-claude:1",
		},
		Env: map[string]schema.EnvValue{
			"GIT_AUTHOR_NAME": {Kind: schema.EnvLiteral, Value: "alice"},
			"GH_TOKEN":        {Kind: schema.EnvFromHost, Value: "HOST_GH_PAT"},
			"JIRA_TOKEN":      {Kind: schema.EnvPrompted, Value: "Paste a Jira token"},
			"BARE":            {Kind: schema.EnvPrompted, Value: ""},
		},
		GitGate: schema.GitGate{
			User: schema.GitUser{Name: "Alice", Email: "alice@example.com"},
			Repos: map[string]schema.Repo{
				"docs": {URL: "https://git.example.com/alice/docs.git",
					Key: schema.RepoKey{Provider: "token", TokenRef: "HOST_DOCS_TOKEN"}, Access: "read"},
				"app": {URL: "ssh://git@git.example.com/alice/app.git",
					Key:     schema.RepoKey{Provider: "static", Path: "~/.ssh/id_app"},
					HostKey: "ssh-ed25519 AAAA", Access: "read-write"},
			},
		},
		Egress: schema.Egress{Routes: []schema.Route{
			{Host: "api.github.com", Ports: []int{443},
				Auth: &schema.RouteAuth{Scheme: "Bearer", TokenRef: "HOST_GH_PAT"},
				Matches: []schema.Match{{
					Paths:   []schema.PathMatch{{Type: "prefix", Value: "/repos/acme/"}},
					Methods: []string{"GET", "POST"}}},
				DLP: schema.DLP{OutboundOnMatch: "block"}},
			{Host: "pypi.org", Ports: []int{443}, DLP: schema.DLP{OutboundOnMatch: "supervise"}},
			{Host: "*.pythonhosted.org", Ports: []int{443, 8443}, DLP: schema.DLP{OutboundOnMatch: "supervise"}},
		}},
		Supervise: true,
		Resources: &schema.Resources{CPUs: 2, MemoryMiB: 4096, Pids: 4096},
		Runtime:   "auto", Backend: "docker",
	}
	return &schema.Manifest{
		Version: 1,
		Project: "acme",
		Defaults: schema.Defaults{
			Backend: "docker", AddressPool: "10.231.0.0/16", SubnetPrefix: 28,
		},
		Bottles: map[string]*schema.Bottle{"claude": claude, "dev": dev},
		Agents: map[string]*schema.Agent{
			"implementer": {Name: "implementer", Bottle: "dev",
				Skills: []string{"zeta", "init-prd"}, Prompt: "Implement the PRD.",
				GitUser: schema.GitUser{Name: "implementer-bot"}},
			"plain": {Name: "plain", Bottle: "claude", Skills: []string{}},
		},
	}
}

// manyAgents returns a manifest of n agents named a0000.. in one
// unpinned bottle.
func manyAgents(n int) *schema.Manifest {
	m := baseManifest()
	m.Agents = make(map[string]*schema.Agent, n)
	for i := range n {
		name := fmt.Sprintf("a%04d", i)
		m.Agents[name] = &schema.Agent{Name: name, Bottle: "claude", Skills: []string{}}
	}
	return m
}

// instance returns the instance with slug, failing the test if absent.
func instance(t *testing.T, p *plan.Plan, slug string) plan.Instance {
	t.Helper()
	for _, in := range p.Instances {
		if in.Slug == slug {
			return in
		}
	}
	t.Fatalf("no instance %q in plan", slug)
	return plan.Instance{}
}

func mustCompile(t testing.TB, m *schema.Manifest, opts Options) *plan.Plan {
	t.Helper()
	p, err := Compile(m, opts)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}
