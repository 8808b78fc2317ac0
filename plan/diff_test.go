package plan

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiff(t *testing.T) {
	tests := map[string]struct {
		change func(p *Plan)
		want   []Change
	}{
		"identical": {
			change: func(p *Plan) {},
			want:   nil,
		},
		"nil and empty are the same": {
			change: func(p *Plan) {
				p.Instances[2].Agent.Skills = []string{}
				p.Instances[2].EnvFromHost = map[string]string{}
			},
			want: nil,
		},
		"digests are not changes": {
			change: func(p *Plan) {
				p.ManifestDigest = SHA256([]byte("other"))
				p.PlanDigest = SHA256([]byte("other"))
			},
			want: nil,
		},
		"route port": {
			change: func(p *Plan) { p.Instances[0].Bundle.Proxy.Routes[1].Ports = []int{443, 8443} },
			want: []Change{
				{Instance: "implementer", Path: "bundle.proxy.routes[pypi.org].ports", Kind: FieldChanged, Old: "[443]", New: "[443,8443]", Security: true},
			},
		},
		"route added and removed": {
			change: func(p *Plan) {
				r := &p.Instances[2].Bundle.Proxy.Routes
				*r = append(*r, Route{Host: "evil.example.com", Ports: []int{443}, DLP: "block"})
				p.Instances[0].Bundle.Proxy.Routes = p.Instances[0].Bundle.Proxy.Routes[:3]
			},
			want: []Change{
				{Instance: "implementer", Path: "bundle.proxy.routes[registry.npmjs.org]", Kind: FieldRemoved, Old: `{"dlp":"supervise","host":"registry.npmjs.org","intercept":true,"ports":[443],"websocket":true}`, Security: true},
				{Instance: "scout", Path: "bundle.proxy.routes[evil.example.com]", Kind: FieldAdded, New: `{"dlp":"block","host":"evil.example.com","intercept":false,"ports":[443]}`, Security: true},
			},
		},
		"websocket opted in, pids raised": {
			change: func(p *Plan) {
				p.Instances[0].Bundle.Proxy.Routes[1].Websocket = true
				p.Instances[0].Agent.Resources.Pids = 8192
			},
			want: []Change{
				{Instance: "implementer", Path: "bundle.proxy.routes[pypi.org].websocket", Kind: FieldAdded, New: "true", Security: true},
				{Instance: "implementer", Path: "agent.resources.pids", Kind: FieldChanged, Old: "4096", New: "8192"},
			},
		},
		"route order is not a change": {
			change: func(p *Plan) {
				r := p.Instances[0].Bundle.Proxy.Routes
				r[1], r[2] = r[2], r[1]
			},
			want: nil,
		},
		"duplicate hosts: routes compared whole": {
			change: func(p *Plan) {
				r := &p.Instances[2].Bundle.Proxy.Routes
				*r = append(*r, Route{Host: "api.openai.com", Ports: []int{80}, DLP: "block"})
			},
			want: []Change{
				{Instance: "scout", Path: "bundle.proxy.routes", Kind: FieldChanged,
					Old:      `[{"auth":{"scheme":"Bearer","token_ref":"OPENAI_API_KEY"},"dlp":"block","host":"api.openai.com","intercept":true,"ports":[443]}]`,
					New:      `[{"auth":{"scheme":"Bearer","token_ref":"OPENAI_API_KEY"},"dlp":"block","host":"api.openai.com","intercept":true,"ports":[443]},{"dlp":"block","host":"api.openai.com","intercept":false,"ports":[80]}]`,
					Security: true},
			},
		},
		"auth added, matches dropped": {
			change: func(p *Plan) {
				r := p.Instances[0].Bundle.Proxy.Routes
				r[0].Matches = nil
				r[2].Auth = &RouteAuth{Scheme: "Basic", TokenRef: "PYPI_TOKEN"}
			},
			want: []Change{
				{Instance: "implementer", Path: "bundle.proxy.routes[*.pythonhosted.org].auth", Kind: FieldAdded, New: `{"scheme":"Basic","token_ref":"PYPI_TOKEN"}`, Security: true},
				{Instance: "implementer", Path: "bundle.proxy.routes[api.github.com].matches", Kind: FieldRemoved, Old: `[{"methods":["GET","POST"],"paths":[{"type":"prefix","value":"/repos/acme/"}]}]`, Security: true},
			},
		},
		"repo access and gate url": {
			change: func(p *Plan) {
				p.Instances[1].Bundle.GitGate.Repos[0].Access = "read-write"
				p.Instances[1].Bundle.GitGate.Repos[0].GateURL = "http://10.231.42.2:9418/app.git"
			},
			want: []Change{
				{Instance: "reviewer", Path: "bundle.git_gate.repos[app].access", Kind: FieldChanged, Old: `"read"`, New: `"read-write"`, Security: true},
				{Instance: "reviewer", Path: "bundle.git_gate.repos[app].gate_url", Kind: FieldChanged, Old: `"http://10.231.41.2:9418/app.git"`, New: `"http://10.231.42.2:9418/app.git"`},
			},
		},
		"git gate removed": {
			change: func(p *Plan) { p.Instances[1].Bundle.GitGate = nil },
			want: []Change{
				{Instance: "reviewer", Path: "bundle.git_gate", Kind: FieldRemoved, Old: `{"listen":"10.231.41.2:9418","repos":[{"access":"read","gate_url":"http://10.231.41.2:9418/app.git","key_path":"~/.ssh/id_ed25519_app","key_provider":"static","name":"app","upstream":"ssh://git@git.example.com/alice/app.git"}],"user":{"email":"alice@example.com","name":"Alice"}}`, Security: true},
			},
		},
		"env names and values": {
			change: func(p *Plan) {
				in := &p.Instances[0]
				in.GuestEnv["GIT_AUTHOR_NAME"] = "bob"
				in.GuestEnv["EDITOR"] = "vi"
				in.EnvFromHost["GH_TOKEN"] = "OTHER_PAT"
				delete(in.EnvPrompted, "JIRA_TOKEN")
			},
			want: []Change{
				{Instance: "implementer", Path: "env_from_host[GH_TOKEN]", Kind: FieldChanged, Old: `"HOST_GH_PAT"`, New: `"OTHER_PAT"`, Security: true},
				{Instance: "implementer", Path: "env_prompted[JIRA_TOKEN]", Kind: FieldRemoved, Old: `"Paste a Jira token"`, Security: true},
				{Instance: "implementer", Path: "guest_env[EDITOR]", Kind: FieldAdded, New: `"vi"`, Security: true},
				{Instance: "implementer", Path: "guest_env[GIT_AUTHOR_NAME]", Kind: FieldChanged, Old: `"alice"`, New: `"bob"`, Security: true},
			},
		},
		"env value changes come before other changes": {
			change: func(p *Plan) {
				in := &p.Instances[0]
				in.Agent.Prompt = "New prompt."
				in.GuestEnv["NODE_EXTRA_CA_CERTS"] = "/tmp/evil-ca.pem"
				in.EnvPrompted["JIRA_TOKEN"] = "Paste anything"
			},
			want: []Change{
				{Instance: "implementer", Path: "env_prompted[JIRA_TOKEN]", Kind: FieldChanged, Old: `"Paste a Jira token"`, New: `"Paste anything"`, Security: true},
				{Instance: "implementer", Path: "guest_env[NODE_EXTRA_CA_CERTS]", Kind: FieldChanged, Old: `"/etc/bottleplan/ca.pem"`, New: `"/tmp/evil-ca.pem"`, Security: true},
				{Instance: "implementer", Path: "agent.prompt", Kind: FieldChanged, Old: `"# Implementer\n\nPick the next open task in PRD.md, implement it with tests,\nand push a branch for review.\n"`, New: `"New prompt."`},
			},
		},
		"literal env turned into a host secret": {
			change: func(p *Plan) {
				in := &p.Instances[0]
				delete(in.GuestEnv, "GIT_AUTHOR_NAME")
				in.EnvFromHost["GIT_AUTHOR_NAME"] = "HOST_AUTHOR"
			},
			want: []Change{
				{Instance: "implementer", Path: "env_from_host[GIT_AUTHOR_NAME]", Kind: FieldAdded, New: `"HOST_AUTHOR"`, Security: true},
				{Instance: "implementer", Path: "guest_env[GIT_AUTHOR_NAME]", Kind: FieldRemoved, Old: `"alice"`, Security: true},
			},
		},
		"supervise off and runtime": {
			change: func(p *Plan) {
				p.Instances[0].Bundle.Supervise = nil
				p.Instances[0].Runtime = "runc"
			},
			want: []Change{
				{Instance: "implementer", Path: "bundle.supervise", Kind: FieldRemoved, Old: `{"listen":"10.231.40.2:9090"}`, Security: true},
				{Instance: "implementer", Path: "runtime", Kind: FieldChanged, Old: `"auto"`, New: `"runc"`, Security: true},
			},
		},
		"security first across instances": {
			change: func(p *Plan) {
				p.Instances[0].Agent.Prompt = "New prompt."
				p.Instances[2].Bundle.SecretsFromHost = append(p.Instances[2].Bundle.SecretsFromHost, "EXTRA")
				p.Project = "acme2"
			},
			want: []Change{
				{Instance: "scout", Path: "bundle.secrets_from_host", Kind: FieldChanged, Old: `["OPENAI_API_KEY"]`, New: `["OPENAI_API_KEY","EXTRA"]`, Security: true},
				{Path: "project", Kind: FieldChanged, Old: `"acme"`, New: `"acme2"`},
				{Instance: "implementer", Path: "agent.prompt", Kind: FieldChanged, Old: `"# Implementer\n\nPick the next open task in PRD.md, implement it with tests,\nand push a branch for review.\n"`, New: `"New prompt."`},
			},
		},
		"instances added and removed": {
			change: func(p *Plan) {
				p.Instances = append(p.Instances[1:], minimalPlan().Instances[0])
			},
			want: []Change{
				{Instance: "implementer", Kind: InstanceRemoved, Old: "docker 10.231.40.0/28; egress api.github.com, pypi.org, *.pythonhosted.org, registry.npmjs.org; git app (read-write), docs (read)", Security: true},
				{Instance: "solo", Kind: InstanceAdded, New: "docker 10.231.0.0/28; no egress", Security: true},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			old, new := examplePlan(), examplePlan()
			tc.change(new)
			got := Diff(old, new)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Diff (-want +got):\n%s", d)
			}
		})
	}
}

// TestIsSecurityRelevantEnv: every change to an env field, whatever its
// kind, is reviewed with the security-relevant changes.
func TestIsSecurityRelevantEnv(t *testing.T) {
	paths := []string{
		"guest_env[NODE_OPTIONS]",
		"guest_env",
		"env_from_host[GH_TOKEN]",
		"env_from_host",
		"env_prompted[JIRA_TOKEN]",
		"env_prompted",
		"bundle.secrets_from_host",
	}
	for _, path := range paths {
		for _, kind := range []ChangeKind{FieldAdded, FieldRemoved, FieldChanged} {
			c := Change{Instance: "implementer", Path: path, Kind: kind}
			if !IsSecurityRelevant(c) {
				t.Errorf("IsSecurityRelevant(%s %s) = false, want true", kind, path)
			}
		}
	}
	// Not everything is: a prompt or an address is reviewed after.
	for _, path := range []string{"agent.prompt", "network.subnet", "guest_envx", "endpoints.proxy_url"} {
		if IsSecurityRelevant(Change{Instance: "implementer", Path: path, Kind: FieldChanged}) {
			t.Errorf("IsSecurityRelevant(changed %s) = true, want false", path)
		}
	}
}

// TestDiffDeterministic: map iteration order never leaks into the result.
func TestDiffDeterministic(t *testing.T) {
	old := examplePlan()
	new := examplePlan()
	for i := range new.Instances {
		in := &new.Instances[i]
		in.GuestEnv["A"], in.GuestEnv["B"], in.GuestEnv["C"] = "1", "2", "3"
		in.Network.Subnet = "10.231.99.0/28"
	}
	first := Diff(old, new)
	for range 20 {
		if d := cmp.Diff(first, Diff(old, new)); d != "" {
			t.Fatalf("Diff is not deterministic:\n%s", d)
		}
	}
}

func TestRenderDiffGolden(t *testing.T) {
	tests := map[string]struct {
		change func(p *Plan)
		color  bool
	}{
		"none":        {change: func(p *Plan) {}},
		"mixed":       {change: changedExample},
		"mixed-color": {change: changedExample, color: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			new := examplePlan()
			tc.change(new)
			var buf bytes.Buffer
			if err := RenderDiff(&buf, Diff(examplePlan(), new), RenderOptions{Color: tc.color}); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "diff-"+name+".txt", buf.Bytes())
		})
	}
}
