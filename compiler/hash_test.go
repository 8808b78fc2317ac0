package compiler

import (
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/schema"
)

// TestConfigHashCoverage changes one manifest field at a time and checks
// which resources' hashes change: exactly those that must be recreated.
func TestConfigHashCoverage(t *testing.T) {
	type changed struct{ network, bundle, agent bool }
	tests := map[string]struct {
		edit func(m *schema.Manifest)
		want changed
	}{
		"nothing": {
			edit: func(m *schema.Manifest) {},
		},
		"bottle chain only (review data)": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Chain = []string{"base", "claude", "dev"} },
		},
		"egress route added": {
			edit: func(m *schema.Manifest) {
				m.Bottles["dev"].Egress.Routes = append(m.Bottles["dev"].Egress.Routes, schema.Route{Host: "example.org", Ports: []int{443}})
			},
			want: changed{bundle: true},
		},
		"route auth": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Egress.Routes[0].Auth.TokenRef = "OTHER" },
			want: changed{bundle: true},
		},
		"supervise off": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Supervise = false },
			// The agent's env and prompt name the supervise URL.
			want: changed{bundle: true, agent: true},
		},
		"repo access": {
			edit: func(m *schema.Manifest) {
				r := m.Bottles["dev"].GitGate.Repos["app"]
				r.Access = "read"
				m.Bottles["dev"].GitGate.Repos["app"] = r
			},
			want: changed{bundle: true},
		},
		"repo upstream (gate config and guest insteadOf)": {
			edit: func(m *schema.Manifest) {
				r := m.Bottles["dev"].GitGate.Repos["app"]
				r.URL = "ssh://git@git.example.com/alice/app2.git"
				m.Bottles["dev"].GitGate.Repos["app"] = r
			},
			want: changed{bundle: true, agent: true},
		},
		"prompt": {
			edit: func(m *schema.Manifest) { m.Agents["implementer"].Prompt = "Something else." },
			want: changed{agent: true},
		},
		"image": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].AgentProvider.Image = "other:2" },
			want: changed{agent: true},
		},
		"command": {
			edit: func(m *schema.Manifest) { m.Agents["implementer"].Command = []string{"sh"} },
			want: changed{agent: true},
		},
		"skills": {
			edit: func(m *schema.Manifest) { m.Agents["implementer"].Skills = []string{"x"} },
			want: changed{agent: true},
		},
		"resources": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Resources.MemoryMiB = 8192 },
			want: changed{agent: true},
		},
		"pids": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Resources.Pids = 512 },
			want: changed{agent: true},
		},
		"route websocket": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Egress.Routes[1].Websocket = true },
			want: changed{bundle: true},
		},
		"runtime": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Runtime = "runsc" },
			want: changed{agent: true},
		},
		"env literal": {
			edit: func(m *schema.Manifest) {
				m.Bottles["dev"].Env["GIT_AUTHOR_NAME"] = schema.EnvValue{Kind: schema.EnvLiteral, Value: "bob"}
			},
			want: changed{agent: true},
		},
		"env copied from another host variable": {
			edit: func(m *schema.Manifest) {
				m.Bottles["dev"].Env["GH_TOKEN"] = schema.EnvValue{Kind: schema.EnvFromHost, Value: "OTHER_PAT"}
			},
			want: changed{agent: true},
		},
		"git identity": {
			edit: func(m *schema.Manifest) { m.Agents["implementer"].GitUser.Email = "bot@example.com" },
			want: changed{bundle: true, agent: true},
		},
		"pinned subnet": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Network.Subnet = "10.231.99.0/28" },
			want: changed{network: true, bundle: true, agent: true},
		},
		"backend": {
			edit: func(m *schema.Manifest) { m.Bottles["dev"].Backend = "smolmachines" },
			want: changed{network: true, bundle: true, agent: true},
		},
		"project": {
			edit: func(m *schema.Manifest) { m.Project = "other" },
			want: changed{network: true, bundle: true, agent: true},
		},
	}
	before := instance(t, mustCompile(t, baseManifest(), Options{}), "implementer").ConfigHash
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := baseManifest()
			tc.edit(m)
			after := instance(t, mustCompile(t, m, Options{}), "implementer").ConfigHash
			got := changed{
				network: before.Network != after.Network,
				bundle:  before.Bundle != after.Bundle,
				agent:   before.Agent != after.Agent,
			}
			if got != tc.want {
				t.Errorf("changed hashes %+v; want %+v", got, tc.want)
			}
		})
	}
}

func TestConfigHashesDiffer(t *testing.T) {
	h := instance(t, mustCompile(t, baseManifest(), Options{}), "implementer").ConfigHash
	for _, d := range []string{h.Network, h.Bundle, h.Agent} {
		if !strings.HasPrefix(d, "sha256:") || len(d) != 71 {
			t.Errorf("hash %q", d)
		}
	}
	if h.Network == h.Bundle || h.Bundle == h.Agent || h.Network == h.Agent {
		t.Errorf("hashes not distinct: %+v", h)
	}
}

func TestManifestDigest(t *testing.T) {
	a := mustCompile(t, baseManifest(), Options{}).ManifestDigest
	m := baseManifest()
	m.Agents["plain"].Prompt = "changed"
	b := mustCompile(t, m, Options{}).ManifestDigest
	if a == b {
		t.Error("manifest digest unchanged after a prompt change")
	}
	// Options are not part of the manifest.
	c := mustCompile(t, baseManifest(), Options{UnroutableBridge: true}).ManifestDigest
	if a != c {
		t.Error("manifest digest depends on Options")
	}
}
