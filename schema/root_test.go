package schema

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRootIndependentOfFileOrder is the regression test for a manifest
// split across directories: the root used to be the first path's
// directory, so listing the files in another order changed the relative
// Dockerfile and prompt paths (and the plan bytes).
func TestRootIndependentOfFileOrder(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("bottles/docker/agent.Dockerfile", "FROM scratch\n")
	write("agents/prompts/p.md", "hello\n")
	bottles := write("bottles/bottles.yaml", `version: 1
bottles:
  b:
    agent_provider: {dockerfile: docker/agent.Dockerfile}
`)
	agents := write("agents/agents.yaml", `agents:
  a:
    bottle: b
    prompt_file: prompts/p.md
`)
	m1, err := Load(bottles, agents)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Load(agents, bottles)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(m1, m2); d != "" {
		t.Fatalf("file order changed the manifest (-bottles first +agents first):\n%s", d)
	}
	if got, want := m1.Bottles["b"].AgentProvider.Dockerfile, "bottles/docker/agent.Dockerfile"; got != want {
		t.Errorf("dockerfile = %q, want %q (relative to the common root)", got, want)
	}
	if got, want := m1.Agents["a"].PromptFile, "agents/prompts/p.md"; got != want {
		t.Errorf("prompt_file = %q, want %q", got, want)
	}
}
