package plan

import "fmt"

// Test plans written as Go literals, shaped like what the compiler makes
// of examples/bottleplan.yaml (../shared/spec/plan.md): two docker
// instances on pinned subnets, one smolmachines instance on an allocated
// one. Each call returns a fresh value that tests may change.

// examplePlan is the plan of examples/bottleplan.yaml.
func examplePlan() *Plan {
	return &Plan{
		FormatVersion:  FormatVersion,
		ManifestDigest: SHA256([]byte("examples/bottleplan.yaml")),
		Project:        "acme",
		AddressPool:    "10.231.0.0/16",
		Instances: []Instance{
			implementerInstance(),
			reviewerInstance(),
			scoutInstance(),
		},
	}
}

// proxyEnv is the guest env the compiler sets for a bundle at ip, plus
// one insteadOf rewrite per {name, upstream} repo (in order).
func proxyEnv(ip string, repos ...[2]string) map[string]string {
	proxy := fmt.Sprintf("http://%s:%d", ip, ProxyPort)
	env := map[string]string{
		"HTTPS_PROXY":         proxy,
		"HTTP_PROXY":          proxy,
		"https_proxy":         proxy,
		"http_proxy":          proxy,
		"NO_PROXY":            ip,
		"no_proxy":            ip,
		"SSL_CERT_FILE":       GuestCAFile,
		"NODE_EXTRA_CA_CERTS": GuestCAFile,
		"REQUESTS_CA_BUNDLE":  GuestCAFile,
	}
	if len(repos) > 0 {
		env["GIT_CONFIG_COUNT"] = fmt.Sprint(len(repos))
		for i, r := range repos {
			env[fmt.Sprintf("GIT_CONFIG_KEY_%d", i)] = "url." + gateURL(ip, r[0]) + ".insteadOf"
			env[fmt.Sprintf("GIT_CONFIG_VALUE_%d", i)] = r[1]
		}
	}
	return env
}

func gateURL(ip, name string) string {
	return fmt.Sprintf("http://%s:%d/%s.git", ip, GitGatePort, name)
}

func network(slug, prefix string, pinned bool) Network {
	return Network{
		Subnet:       prefix + ".0/28",
		Pinned:       pinned,
		Gateway:      prefix + ".1",
		BundleIP:     prefix + ".2",
		AgentIP:      prefix + ".3",
		ProbeIP:      prefix + ".4",
		InternalName: "acme-" + slug + "-internal",
		EgressName:   "acme-" + slug + "-egress",
	}
}

func configHash(slug string) ConfigHash {
	return ConfigHash{
		Network: SHA256([]byte(slug + "/network")),
		Bundle:  SHA256([]byte(slug + "/bundle")),
		Agent:   SHA256([]byte(slug + "/agent")),
	}
}

const (
	appURL  = "ssh://git@git.example.com/alice/app.git"
	docsURL = "https://git.example.com/alice/docs.git"
	hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
)

// devRoutes are the dev bottle's egress routes, in manifest order.
func devRoutes() []Route {
	return []Route{
		{
			Host:  "api.github.com",
			Ports: []int{443},
			Auth:  &RouteAuth{Scheme: "Bearer", TokenRef: "HOST_GH_PAT"},
			Matches: []Match{{
				Paths:   []PathMatch{{Type: "prefix", Value: "/repos/acme/"}},
				Methods: []string{"GET", "POST"},
			}},
			DLP:       "block",
			Intercept: true,
		},
		{Host: "pypi.org", Ports: []int{443}, DLP: "supervise", Intercept: true},
		{Host: "*.pythonhosted.org", Ports: []int{443}, DLP: "supervise", Intercept: true},
		{Host: "registry.npmjs.org", Ports: []int{443}, DLP: "supervise", Intercept: true, Websocket: true},
	}
}

func implementerInstance() Instance {
	const ip = "10.231.40.2"
	env := proxyEnv(ip, [2]string{"app", appURL}, [2]string{"docs", docsURL})
	env["GIT_AUTHOR_NAME"] = "alice"
	return Instance{
		Slug:        "implementer",
		BottleChain: []string{"claude", "dev"},
		Backend:     BackendDocker,
		Runtime:     "auto",
		Network:     network("implementer", "10.231.40", true),
		Agent: Agent{
			Name:             "implementer",
			Image:            "bottleplan/agent-claude:latest",
			Command:          []string{"claude", "--append-system-prompt-file", GuestPromptFile},
			PromptMode:       PromptModeClaudeAppendFile,
			ProviderTemplate: "claude",
			Prompt:           "# Implementer\n\nPick the next open task in PRD.md, implement it with tests,\nand push a branch for review.\n",
			Skills:           []string{"init-prd"},
			Resources:        &Resources{CPUs: 2, MemoryMiB: 4096, Pids: 4096},
			ContainerName:    "acme-implementer-agent",
		},
		GuestEnv:    env,
		EnvFromHost: map[string]string{"GH_TOKEN": "HOST_GH_PAT"},
		EnvPrompted: map[string]string{"JIRA_TOKEN": "Paste a Jira token"},
		Bundle: Bundle{
			ContainerName: "acme-implementer-bundle",
			Proxy:         Proxy{Listen: fmt.Sprintf("%s:%d", ip, ProxyPort), Routes: devRoutes()},
			GitGate: &GitGate{
				Listen: fmt.Sprintf("%s:%d", ip, GitGatePort),
				User:   GitUser{Name: "implementer-bot", Email: "alice@example.com"},
				Repos: []Repo{
					{Name: "app", Upstream: appURL, GateURL: gateURL(ip, "app"), Access: "read-write", KeyProvider: "static", KeyPath: "~/.ssh/id_ed25519_app", HostKey: hostKey},
					{Name: "docs", Upstream: docsURL, GateURL: gateURL(ip, "docs"), Access: "read", KeyProvider: "token", TokenRef: "HOST_DOCS_TOKEN"},
				},
			},
			Supervise:       &Supervise{Listen: fmt.Sprintf("%s:%d", ip, SupervisePort)},
			SecretsFromHost: []string{"CLAUDE_CODE_OAUTH_TOKEN", "HOST_DOCS_TOKEN", "HOST_GH_PAT"},
		},
		Endpoints: Endpoints{
			ProxyURL:     fmt.Sprintf("http://%s:%d", ip, ProxyPort),
			GitGateURL:   fmt.Sprintf("http://%s:%d", ip, GitGatePort),
			SuperviseURL: fmt.Sprintf("http://%s:%d", ip, SupervisePort),
		},
		ConfigHash: configHash("implementer"),
	}
}

func reviewerInstance() Instance {
	const ip = "10.231.41.2"
	env := proxyEnv(ip, [2]string{"app", appURL})
	env["GIT_AUTHOR_NAME"] = "alice"
	return Instance{
		Slug:        "reviewer",
		BottleChain: []string{"claude", "dev", "review"},
		Backend:     BackendDocker,
		Runtime:     "auto",
		Network:     network("reviewer", "10.231.41", true),
		Agent: Agent{
			Name:             "reviewer",
			Image:            "bottleplan/agent-claude:latest",
			Command:          []string{"claude", "--append-system-prompt-file", GuestPromptFile},
			PromptMode:       PromptModeClaudeAppendFile,
			ProviderTemplate: "claude",
			Prompt:           "Review the open pull requests in app and leave comments.",
			Skills:           []string{},
			Resources:        &Resources{CPUs: 2, MemoryMiB: 4096, Pids: 4096},
			ContainerName:    "acme-reviewer-agent",
		},
		GuestEnv:    env,
		EnvFromHost: map[string]string{"GH_TOKEN": "HOST_GH_PAT"},
		EnvPrompted: map[string]string{"JIRA_TOKEN": "Paste a Jira token"},
		Bundle: Bundle{
			ContainerName: "acme-reviewer-bundle",
			Proxy:         Proxy{Listen: fmt.Sprintf("%s:%d", ip, ProxyPort), Routes: devRoutes()},
			GitGate: &GitGate{
				Listen: fmt.Sprintf("%s:%d", ip, GitGatePort),
				User:   GitUser{Name: "Alice", Email: "alice@example.com"},
				Repos: []Repo{
					{Name: "app", Upstream: appURL, GateURL: gateURL(ip, "app"), Access: "read", KeyProvider: "static", KeyPath: "~/.ssh/id_ed25519_app"},
				},
			},
			Supervise:       &Supervise{Listen: fmt.Sprintf("%s:%d", ip, SupervisePort)},
			SecretsFromHost: []string{"CLAUDE_CODE_OAUTH_TOKEN", "HOST_GH_PAT"},
		},
		Endpoints: Endpoints{
			ProxyURL:     fmt.Sprintf("http://%s:%d", ip, ProxyPort),
			GitGateURL:   fmt.Sprintf("http://%s:%d", ip, GitGatePort),
			SuperviseURL: fmt.Sprintf("http://%s:%d", ip, SupervisePort),
		},
		ConfigHash: configHash("reviewer"),
	}
}

func scoutInstance() Instance {
	const ip = "10.231.7.18"
	return Instance{
		Slug:        "scout",
		BottleChain: []string{"codex"},
		Backend:     BackendSmolmachines,
		Runtime:     "auto",
		Network: Network{
			Subnet:       "10.231.7.16/28",
			Gateway:      "10.231.7.17",
			BundleIP:     ip,
			ProbeIP:      "10.231.7.20",
			AllowCIDR:    ip + "/32",
			InternalName: "acme-scout-internal",
		},
		Agent: Agent{
			Name:             "scout",
			Dockerfile:       "docker/codex.Dockerfile",
			DockerfileDigest: SHA256([]byte("FROM scratch\n")),
			Command:          []string{"codex", "--full-auto"},
			PromptMode:       PromptModeCodexInstructionsFile,
			ProviderTemplate: "codex",
			Prompt:           "Survey the repository and summarise its layout.",
			Skills:           nil,
			MachineName:      "acme-scout",
		},
		GuestEnv: proxyEnv(ip),
		Bundle: Bundle{
			ContainerName: "acme-scout-bundle",
			Proxy: Proxy{Listen: fmt.Sprintf("%s:%d", ip, ProxyPort), Routes: []Route{{
				Host:      "api.openai.com",
				Ports:     []int{443},
				Auth:      &RouteAuth{Scheme: "Bearer", TokenRef: "OPENAI_API_KEY"},
				DLP:       "block",
				Intercept: true,
			}}},
			SecretsFromHost: []string{"OPENAI_API_KEY"},
		},
		Endpoints: Endpoints{
			ProxyURL:        fmt.Sprintf("http://%s:%d", ip, ProxyPort),
			AssignedAtApply: true,
		},
		ConfigHash: configHash("scout"),
	}
}

// minimalPlan is the smallest valid plan: one instance with every
// optional part absent and every collection nil.
func minimalPlan() *Plan {
	return &Plan{
		FormatVersion:  FormatVersion,
		ManifestDigest: SHA256([]byte("minimal")),
		Project:        "bottleplan",
		AddressPool:    "10.231.0.0/16",
		Instances: []Instance{{
			Slug:        "solo",
			BottleChain: []string{"base"},
			Backend:     BackendDocker,
			Runtime:     "runsc",
			Network:     network("solo", "10.231.0", false),
			Agent: Agent{
				Name:             "solo",
				Image:            "example/agent:1",
				Command:          []string{"claude"},
				PromptMode:       PromptModeClaudeAppendFile,
				ProviderTemplate: "claude",
				ContainerName:    "bottleplan-solo-agent",
			},
			Bundle: Bundle{
				ContainerName: "bottleplan-solo-bundle",
				Proxy:         Proxy{Listen: "10.231.0.2:3128"},
			},
			Endpoints:  Endpoints{ProxyURL: "http://10.231.0.2:3128"},
			ConfigHash: configHash("solo"),
		}},
	}
}

// changedExample is the example plan after a manifest edit that touches
// egress, git access, env, supervise, addresses and the prompt, and adds
// an instance: a realistic mix of security-relevant and other changes.
func changedExample(p *Plan) {
	impl := &p.Instances[0]
	impl.Bundle.Proxy.Routes = append(impl.Bundle.Proxy.Routes, Route{Host: "uploads.example.net", Ports: []int{443, 8443}, DLP: "supervise", Intercept: true})
	impl.Bundle.Proxy.Routes[0].Matches[0].Methods = []string{"GET", "POST", "DELETE"}
	impl.EnvFromHost["NPM_TOKEN"] = "HOST_NPM_TOKEN"
	impl.GuestEnv["GIT_AUTHOR_NAME"] = "implementer-bot"
	impl.Agent.Prompt = "# Implementer\n\nPick the next open task and implement it.\n"

	rev := &p.Instances[1]
	rev.Bundle.GitGate.Repos[0].Access = "read-write"
	rev.Bundle.Supervise = nil
	rev.Endpoints.SuperviseURL = ""

	extra := minimalPlan().Instances[0]
	extra.Slug, extra.Agent.Name = "tester", "tester"
	p.Instances = append(p.Instances, extra)
}
