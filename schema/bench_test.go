package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// genManifest writes a manifest of n bottles and n agents, each bottle
// with 5 env vars, 2 repos and 5 routes (the shape of the performance
// goal in issue 7), and returns its path.
func genManifest(tb testing.TB, dir string, n int) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("version: 1\nproject: bench\ndefaults: {subnet_prefix: 29, address_pool: 10.0.0.0/8}\nbottles:\n")
	b.WriteString("  base:\n    agent_provider: {template: claude, auth_token: TOKEN, image: agent:latest}\n")
	for i := range n {
		fmt.Fprintf(&b, "  b%d:\n    extends: base\n    supervise: true\n    env:\n", i)
		for j := range 5 {
			fmt.Fprintf(&b, "      VAR_%d: value-%d\n", j, j)
		}
		b.WriteString("    git_gate:\n      user: {name: bot, email: bot@example.com}\n      repos:\n")
		fmt.Fprintf(&b, "        app: {url: \"git@git.example.com:org/app%d.git\", key: {provider: static, path: ~/.ssh/k}, host_key: \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\"}\n", i)
		fmt.Fprintf(&b, "        docs: {url: \"https://git.example.com/org/docs%d.git\", key: {provider: token, token_ref: DOCS}, access: read}\n", i)
		b.WriteString("    egress:\n      routes:\n")
		for j := range 5 {
			fmt.Fprintf(&b, "        - host: api%d.example.com\n          auth: {scheme: Bearer, token_ref: TOK_%d}\n          matches: [{paths: [{type: prefix, value: /v1/}], methods: [GET, POST]}]\n", j, j)
		}
		b.WriteString("    resources: {cpus: 2, memory_mib: 2048}\n")
	}
	b.WriteString("agents:\n")
	for i := range n {
		fmt.Fprintf(&b, "  a%d: {bottle: b%d, prompt: \"Work on item %d.\", skills: [init-prd]}\n", i, i, i)
	}
	p := filepath.Join(dir, fmt.Sprintf("m%d.yaml", n))
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			p := genManifest(b, b.TempDir(), n)
			b.ReportAllocs()
			for b.Loop() {
				m, err := Load(p)
				if err != nil {
					b.Fatal(err)
				}
				if len(m.Agents) != n {
					b.Fatalf("%d agents, want %d", len(m.Agents), n)
				}
			}
		})
	}
}

// TestGeneratedManifestLoads keeps the benchmark's generator honest.
func TestGeneratedManifestLoads(t *testing.T) {
	m, err := Load(genManifest(t, t.TempDir(), 3))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Agents) != 3 || len(m.Bottles) != 4 || len(m.Bottles["b2"].Egress.Routes) != 5 {
		t.Fatalf("unexpected manifest: %d agents, %d bottles", len(m.Agents), len(m.Bottles))
	}
}
