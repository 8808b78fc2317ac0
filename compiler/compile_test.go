package compiler

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/plan"
	"github.com/bottleplan/bottleplan/schema"
	"github.com/google/go-cmp/cmp"
)

func TestCompileInstanceFields(t *testing.T) {
	tests := map[string]struct {
		edit  func(m *schema.Manifest)
		opts  Options
		slug  string
		check func(t *testing.T, in plan.Instance)
	}{
		"docker addresses and names": {
			slug: "implementer",
			check: func(t *testing.T, in plan.Instance) {
				s := netip.MustParsePrefix(in.Network.Subnet)
				base := s.Addr()
				want := plan.Network{
					Subnet:       s.String(),
					Gateway:      base.Next().String(),
					BundleIP:     base.Next().Next().String(),
					AgentIP:      base.Next().Next().Next().String(),
					ProbeIP:      base.Next().Next().Next().Next().String(),
					InternalName: "acme-implementer-int",
					EgressName:   "acme-implementer-egress",
				}
				if d := cmp.Diff(want, in.Network); d != "" {
					t.Errorf("network (-want +got):\n%s", d)
				}
				if s.Bits() != 28 || !netip.MustParsePrefix("10.231.0.0/16").Contains(base) {
					t.Errorf("subnet %s is not a /28 of the pool", s)
				}
				if in.Agent.ContainerName != "acme-implementer-agent" || in.Agent.MachineName != "" {
					t.Errorf("agent names %q / %q", in.Agent.ContainerName, in.Agent.MachineName)
				}
				if in.Bundle.ContainerName != "acme-implementer-bundle" {
					t.Errorf("bundle name %q", in.Bundle.ContainerName)
				}
				if !slices.Equal(in.BottleChain, []string{"claude", "dev"}) || in.Backend != "docker" || in.Runtime != "auto" {
					t.Errorf("chain %v backend %q runtime %q", in.BottleChain, in.Backend, in.Runtime)
				}
			},
		},
		"pinned subnet": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Network.Subnet = "10.231.40.0/28" },
			slug: "implementer",
			check: func(t *testing.T, in plan.Instance) {
				n := in.Network
				if n.Subnet != "10.231.40.0/28" || !n.Pinned || n.Gateway != "10.231.40.1" ||
					n.BundleIP != "10.231.40.2" || n.AgentIP != "10.231.40.3" || n.ProbeIP != "10.231.40.4" {
					t.Errorf("network %+v", n)
				}
				if in.Endpoints.ProxyURL != "http://10.231.40.2:3128" ||
					in.Endpoints.GitGateURL != "http://10.231.40.2:9418" ||
					in.Endpoints.SuperviseURL != "http://10.231.40.2:9090/mcp" {
					t.Errorf("endpoints %+v", in.Endpoints)
				}
			},
		},
		"pin outside the pool": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Network.Subnet = "192.168.7.0/24" },
			slug: "implementer",
			check: func(t *testing.T, in plan.Instance) {
				if in.Network.Subnet != "192.168.7.0/24" || in.Network.BundleIP != "192.168.7.2" {
					t.Errorf("network %+v", in.Network)
				}
			},
		},
		"smolmachines": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Backend = "smolmachines" },
			slug: "implementer",
			check: func(t *testing.T, in plan.Instance) {
				n := in.Network
				if in.Backend != "smolmachines" || n.AgentIP != "" || n.EgressName != "" ||
					n.InternalName != "acme-implementer-int" || n.AllowCIDR != n.BundleIP+"/32" {
					t.Errorf("network %+v", n)
				}
				if in.Agent.MachineName != "acme-implementer" || in.Agent.ContainerName != "" {
					t.Errorf("agent names %q / %q", in.Agent.ContainerName, in.Agent.MachineName)
				}
				if in.Endpoints.AssignedAtApply {
					t.Error("assigned_at_apply on a routable bridge")
				}
			},
		},
		"smolmachines on an unroutable bridge": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Backend = "smolmachines" },
			opts: Options{UnroutableBridge: true},
			slug: "implementer",
			check: func(t *testing.T, in plan.Instance) {
				if !in.Endpoints.AssignedAtApply {
					t.Error("assigned_at_apply not set")
				}
			},
		},
		"docker ignores an unroutable bridge": {
			opts: Options{UnroutableBridge: true},
			slug: "implementer",
			check: func(t *testing.T, in plan.Instance) {
				if in.Endpoints.AssignedAtApply {
					t.Error("assigned_at_apply set on docker")
				}
			},
		},
		"backend from defaults": {
			edit: func(m *schema.Manifest) {
				m.Bottles["claude"].Backend = ""
				m.Defaults.Backend = "smolmachines"
			},
			slug: "plain",
			check: func(t *testing.T, in plan.Instance) {
				if in.Backend != "smolmachines" {
					t.Errorf("backend %q", in.Backend)
				}
			},
		},
		"agent defaults from the claude template": {
			slug: "implementer",
			check: func(t *testing.T, in plan.Instance) {
				want := plan.Agent{
					Name:  "implementer",
					Image: "bottleplan/agent-claude:1",
					Command: []string{"claude", "--dangerously-skip-permissions",
						"--append-system-prompt-file", plan.GuestPromptFile},
					PromptMode:       plan.PromptModeClaudeAppendFile,
					ProviderTemplate: "claude",
					// Supervise is on: the prompt ends with the
					// paragraph about the supervise URL and its tools.
					Prompt:        withSupervisePrompt("Implement the PRD.", in.Endpoints.SuperviseURL),
					Skills:        []string{"init-prd", "zeta"},
					Resources:     &plan.Resources{CPUs: 2, MemoryMiB: 4096, Pids: 4096},
					ContainerName: "acme-implementer-agent",
				}
				if d := cmp.Diff(want, in.Agent); d != "" {
					t.Errorf("agent (-want +got):\n%s", d)
				}
			},
		},
		"codex template with a dockerfile and a command override": {
			edit: func(m *schema.Manifest) {
				m.Bottles["claude"].AgentProvider = schema.AgentProvider{
					Template: "codex", AuthToken: "OPENAI_API_KEY",
					Dockerfile: "docker/codex.Dockerfile", DockerfileDigest: "sha256:abc",
				}
				m.Agents["plain"].Command = []string{"codex", "exec", "hi"}
			},
			slug: "plain",
			check: func(t *testing.T, in plan.Instance) {
				a := in.Agent
				if a.Image != "" || a.Dockerfile != "docker/codex.Dockerfile" || a.DockerfileDigest != "sha256:abc" {
					t.Errorf("image %q dockerfile %q digest %q", a.Image, a.Dockerfile, a.DockerfileDigest)
				}
				if a.PromptMode != plan.PromptModeCodexInstructionsFile || a.ProviderTemplate != "codex" {
					t.Errorf("prompt mode %q template %q", a.PromptMode, a.ProviderTemplate)
				}
				if !slices.Equal(a.Command, []string{"codex", "exec", "hi"}) {
					t.Errorf("command %q", a.Command)
				}
				r := in.Bundle.Proxy.Routes[0]
				if r.Host != "api.openai.com" || r.Auth == nil || r.Auth.TokenRef != "OPENAI_API_KEY" {
					t.Errorf("provider route %+v", r)
				}
				if in.GuestEnv["OPENAI_API_KEY"] != plan.GuestAuthPlaceholder {
					t.Errorf("OPENAI_API_KEY = %q", in.GuestEnv["OPENAI_API_KEY"])
				}
			},
		},
		"default image when the bottle names none": {
			edit: func(m *schema.Manifest) { m.Bottles["claude"].AgentProvider.Image = "" },
			slug: "plain",
			check: func(t *testing.T, in plan.Instance) {
				if in.Agent.Image != "bottleplan/agent-claude:latest" {
					t.Errorf("image %q", in.Agent.Image)
				}
			},
		},
		"env modes": {
			slug: "implementer",
			check: func(t *testing.T, in plan.Instance) {
				if in.GuestEnv["GIT_AUTHOR_NAME"] != "alice" {
					t.Errorf("literal missing: %v", in.GuestEnv)
				}
				for _, n := range []string{"GH_TOKEN", "JIRA_TOKEN", "BARE"} {
					if _, ok := in.GuestEnv[n]; ok {
						t.Errorf("%s in guest_env", n)
					}
				}
				if d := cmp.Diff(map[string]string{"GH_TOKEN": "HOST_GH_PAT"}, in.EnvFromHost); d != "" {
					t.Errorf("env_from_host (-want +got):\n%s", d)
				}
				if d := cmp.Diff(map[string]string{"JIRA_TOKEN": "Paste a Jira token", "BARE": ""}, in.EnvPrompted); d != "" {
					t.Errorf("env_prompted (-want +got):\n%s", d)
				}
			},
		},
		"proxy, CA and git variables": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Network.Subnet = "10.231.40.0/28" },
			slug: "implementer",
			check: func(t *testing.T, in plan.Instance) {
				want := map[string]string{
					"HTTPS_PROXY": "http://10.231.40.2:3128", "https_proxy": "http://10.231.40.2:3128",
					"HTTP_PROXY": "http://10.231.40.2:3128", "http_proxy": "http://10.231.40.2:3128",
					"NO_PROXY": "10.231.40.2,localhost,127.0.0.1", "no_proxy": "10.231.40.2,localhost,127.0.0.1",
					"SSL_CERT_FILE": plan.GuestCAFile, "NODE_EXTRA_CA_CERTS": plan.GuestCAFile,
					"REQUESTS_CA_BUNDLE": plan.GuestCAFile,
					"GIT_CONFIG_COUNT":   "4",
					"GIT_CONFIG_KEY_0":   "url.http://10.231.40.2:9418/app.git.insteadOf",
					"GIT_CONFIG_VALUE_0": "ssh://git@git.example.com/alice/app.git",
					"GIT_CONFIG_KEY_1":   "url.http://10.231.40.2:9418/docs.git.insteadOf",
					"GIT_CONFIG_VALUE_1": "https://git.example.com/alice/docs.git",
					"GIT_CONFIG_KEY_2":   "user.name", "GIT_CONFIG_VALUE_2": "implementer-bot",
					"GIT_CONFIG_KEY_3": "user.email", "GIT_CONFIG_VALUE_3": "alice@example.com",
					"GIT_AUTHOR_NAME":          "alice",
					"CLAUDE_CODE_OAUTH_TOKEN":  plan.GuestAuthPlaceholder,
					"BOTTLEPLAN_SUPERVISE_URL": "http://10.231.40.2:9090/mcp",
				}
				if d := cmp.Diff(want, in.GuestEnv); d != "" {
					t.Errorf("guest_env (-want +got):\n%s", d)
				}
			},
		},
		"no git variables without repos or identity": {
			slug: "plain",
			check: func(t *testing.T, in plan.Instance) {
				for k := range in.GuestEnv {
					if strings.HasPrefix(k, "GIT_CONFIG") {
						t.Errorf("%s set", k)
					}
				}
				if in.Bundle.GitGate != nil || in.Endpoints.GitGateURL != "" {
					t.Errorf("git gate %+v, url %q", in.Bundle.GitGate, in.Endpoints.GitGateURL)
				}
			},
		},
		"declared auth variable wins over the placeholder": {
			edit: func(m *schema.Manifest) {
				m.Bottles["dev"].Env["CLAUDE_CODE_OAUTH_TOKEN"] = schema.EnvValue{Kind: schema.EnvFromHost, Value: "MY_TOKEN"}
			},
			slug: "implementer",
			check: func(t *testing.T, in plan.Instance) {
				if _, ok := in.GuestEnv["CLAUDE_CODE_OAUTH_TOKEN"]; ok {
					t.Error("placeholder set over a declared variable")
				}
				if in.EnvFromHost["CLAUDE_CODE_OAUTH_TOKEN"] != "MY_TOKEN" {
					t.Errorf("env_from_host %v", in.EnvFromHost)
				}
			},
		},
		"bundle routes and secrets": {
			slug: "implementer",
			check: func(t *testing.T, in plan.Instance) {
				b := in.Bundle
				if b.Proxy.Listen != in.Network.BundleIP+":3128" {
					t.Errorf("listen %q", b.Proxy.Listen)
				}
				var hosts []string
				for _, r := range b.Proxy.Routes {
					hosts = append(hosts, r.Host)
				}
				if !slices.Equal(hosts, []string{"api.anthropic.com", "api.github.com", "pypi.org", "*.pythonhosted.org"}) {
					t.Errorf("route hosts %v", hosts)
				}
				provider, gh, pypi := b.Proxy.Routes[0], b.Proxy.Routes[1], b.Proxy.Routes[2]
				if !gh.Intercept || gh.DLP != "block" || gh.Auth.TokenRef != "HOST_GH_PAT" || len(gh.Matches) != 1 {
					t.Errorf("github route %+v", gh)
				}
				// No auth, no matches, and still intercepted: DLP can only
				// read what leaves through TLS the bundle terminates.
				if !pypi.Intercept || pypi.DLP != "supervise" {
					t.Errorf("pypi route %+v", pypi)
				}
				for _, r := range b.Proxy.Routes {
					if !r.Intercept {
						t.Errorf("route %s is not intercepted: its dlp %q would be inert", r.Host, r.DLP)
					}
				}
				if !provider.Intercept || provider.DLP != "supervise" || !slices.Equal(provider.Ports, []int{443}) ||
					provider.Auth == nil || *provider.Auth != (plan.RouteAuth{Scheme: "Bearer", TokenRef: "CLAUDE_CODE_OAUTH_TOKEN"}) {
					t.Errorf("provider route %+v", provider)
				}
				if !slices.Equal(b.SecretsFromHost, []string{"CLAUDE_CODE_OAUTH_TOKEN", "HOST_DOCS_TOKEN", "HOST_GH_PAT"}) {
					t.Errorf("secrets %v", b.SecretsFromHost)
				}
				if b.Supervise == nil || b.Supervise.Listen != in.Network.BundleIP+":9090" {
					t.Errorf("supervise %+v", b.Supervise)
				}
			},
		},
		"declared provider route keeps its place and gains auth": {
			edit: func(m *schema.Manifest) {
				m.Bottles["claude"].Egress.Routes = []schema.Route{
					{Host: "api.anthropic.com", Ports: []int{443}, DLP: schema.DLP{OutboundOnMatch: "block"}},
					{Host: "pypi.org", Ports: []int{443}, DLP: schema.DLP{OutboundOnMatch: "block"}},
				}
			},
			slug: "plain",
			check: func(t *testing.T, in plan.Instance) {
				rs := in.Bundle.Proxy.Routes
				if len(rs) != 2 || rs[0].Host != "api.anthropic.com" || rs[0].Auth == nil || !rs[0].Intercept {
					t.Errorf("routes %+v", rs)
				}
			},
		},
		"declared provider route keeps its own auth": {
			edit: func(m *schema.Manifest) {
				m.Bottles["claude"].Egress.Routes = []schema.Route{{Host: "api.anthropic.com", Ports: []int{443},
					Auth: &schema.RouteAuth{Scheme: "token", TokenRef: "OTHER"}, DLP: schema.DLP{OutboundOnMatch: "block"}}}
			},
			slug: "plain",
			check: func(t *testing.T, in plan.Instance) {
				rs := in.Bundle.Proxy.Routes
				if len(rs) != 1 || *rs[0].Auth != (plan.RouteAuth{Scheme: "token", TokenRef: "OTHER"}) {
					t.Errorf("routes %+v", rs)
				}
				// The auth_token is still a secret the bundle is given.
				if !slices.Equal(in.Bundle.SecretsFromHost, []string{"CLAUDE_CODE_OAUTH_TOKEN", "OTHER"}) {
					t.Errorf("secrets %v", in.Bundle.SecretsFromHost)
				}
			},
		},
		"provider route without auth_token": {
			edit: func(m *schema.Manifest) { m.Bottles["claude"].AgentProvider.AuthToken = "" },
			slug: "plain",
			check: func(t *testing.T, in plan.Instance) {
				rs := in.Bundle.Proxy.Routes
				if len(rs) != 1 || rs[0].Host != "api.anthropic.com" || rs[0].Auth != nil || !rs[0].Intercept {
					t.Errorf("routes %+v", rs)
				}
				if len(in.Bundle.SecretsFromHost) != 0 {
					t.Errorf("secrets %v", in.Bundle.SecretsFromHost)
				}
			},
		},
		"git gate": {
			slug: "implementer",
			check: func(t *testing.T, in plan.Instance) {
				ip := in.Network.BundleIP
				want := &plan.GitGate{
					Listen: ip + ":9418",
					User:   plan.GitUser{Name: "implementer-bot", Email: "alice@example.com"},
					Repos: []plan.Repo{
						{Name: "app", Upstream: "ssh://git@git.example.com/alice/app.git",
							GateURL: "http://" + ip + ":9418/app.git", Access: "read-write",
							KeyProvider: "static", KeyPath: "~/.ssh/id_app", HostKey: "ssh-ed25519 AAAA"},
						{Name: "docs", Upstream: "https://git.example.com/alice/docs.git",
							GateURL: "http://" + ip + ":9418/docs.git", Access: "read",
							KeyProvider: "token", TokenRef: "HOST_DOCS_TOKEN"},
					},
				}
				if d := cmp.Diff(want, in.Bundle.GitGate); d != "" {
					t.Errorf("git gate (-want +got):\n%s", d)
				}
			},
		},
		"supervise off": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Supervise = false },
			slug: "implementer",
			check: func(t *testing.T, in plan.Instance) {
				if in.Bundle.Supervise != nil || in.Endpoints.SuperviseURL != "" {
					t.Errorf("supervise %+v url %q", in.Bundle.Supervise, in.Endpoints.SuperviseURL)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := baseManifest()
			if tc.edit != nil {
				tc.edit(m)
			}
			p := mustCompile(t, m, tc.opts)
			tc.check(t, instance(t, p, tc.slug))
		})
	}
}

func TestCompilePlanFields(t *testing.T) {
	p := mustCompile(t, baseManifest(), Options{})
	if p.FormatVersion != plan.FormatVersion || p.Project != "acme" || p.AddressPool != "10.231.0.0/16" {
		t.Errorf("header %d %q %q", p.FormatVersion, p.Project, p.AddressPool)
	}
	if !strings.HasPrefix(p.ManifestDigest, "sha256:") || len(p.ManifestDigest) != len("sha256:")+64 {
		t.Errorf("manifest digest %q", p.ManifestDigest)
	}
	if p.PlanDigest != "" {
		t.Errorf("plan digest %q; plan.Encode fills it", p.PlanDigest)
	}
	var slugs []string
	for _, in := range p.Instances {
		slugs = append(slugs, in.Slug)
	}
	if !slices.Equal(slugs, []string{"implementer", "plain"}) {
		t.Errorf("slugs %v", slugs)
	}
}

func TestCompileDefaults(t *testing.T) {
	m := baseManifest()
	m.Project = ""
	m.Defaults = schema.Defaults{}
	p := mustCompile(t, m, Options{})
	if p.Project != "bottleplan" || p.AddressPool != "10.231.0.0/16" {
		t.Errorf("project %q pool %q", p.Project, p.AddressPool)
	}
	in := instance(t, p, "plain")
	if in.Network.InternalName != "bottleplan-plain-int" || !strings.HasSuffix(in.Network.Subnet, "/28") {
		t.Errorf("network %+v", in.Network)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := map[string]struct {
		edit func(m *schema.Manifest)
		want []string
	}{
		"nil manifest": {
			edit: nil,
			want: []string{"no manifest"},
		},
		"no pids limit": {
			edit: func(m *schema.Manifest) { m.Bottles["claude"].Resources = nil },
			want: []string{`bottle "claude": resources.pids is not set`},
		},
		"missing bottle": {
			edit: func(m *schema.Manifest) { m.Agents["plain"].Bottle = "nope" },
			want: []string{`agent "plain": bottle "nope" does not exist`},
		},
		"two agents on one pinned bottle": {
			edit: func(m *schema.Manifest) {
				m.Bottles["dev"].Network.Subnet = "10.231.40.0/28"
				m.Agents["second"] = &schema.Agent{Name: "second", Bottle: "dev"}
			},
			want: []string{`agents "implementer" and "second" both run in bottle "dev"`},
		},
		"pool exhausted": {
			edit: func(m *schema.Manifest) {
				m.Defaults.AddressPool = "10.231.0.0/27"
				m.Agents["third"] = &schema.Agent{Name: "third", Bottle: "claude"}
			},
			want: []string{"has room for 2 subnets of /28 but 3 are needed"},
		},
		"unknown backend, reported once": {
			edit: func(m *schema.Manifest) {
				m.Bottles["claude"].Backend = "podman"
				m.Agents["other"] = &schema.Agent{Name: "other", Bottle: "claude"}
			},
			want: []string{`bottle "claude": backend "podman" is not one of "docker", "smolmachines"`},
		},
		"unknown template": {
			edit: func(m *schema.Manifest) { m.Bottles["claude"].AgentProvider.Template = "gemini" },
			want: []string{`agent_provider.template "gemini" is not one of "claude", "codex"`},
		},
		"bad pin": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Network.Subnet = "10.231.40.1/28" },
			want: []string{`bottle "dev": network.subnet 10.231.40.1/28 is not aligned`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var m *schema.Manifest
			if tc.edit != nil {
				m = baseManifest()
				tc.edit(m)
			}
			_, err := Compile(m, Options{})
			if err == nil {
				t.Fatal("Compile succeeded; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
				if n := strings.Count(err.Error(), w); n > 1 {
					t.Errorf("%q reported %d times", w, n)
				}
			}
		})
	}
}

// The supervise paragraph names the URL, the env variable and the three
// tools, and keeps the manifest's prompt first.
func TestSupervisePrompt(t *testing.T) {
	got := withSupervisePrompt("Do the thing.\n", "http://10.0.0.2:9090/mcp")
	for _, want := range []string{"Do the thing.\n\n", "http://10.0.0.2:9090/mcp", "$BOTTLEPLAN_SUPERVISE_URL", "held_requests", "request_access(host, reason)", "ask_operator(question)"} {
		if !strings.Contains(got, want) {
			t.Errorf("prompt lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasPrefix(got, "Do the thing.") || strings.HasPrefix(withSupervisePrompt("", "u"), "\n") {
		t.Errorf("prompt order: %q", got)
	}
}
