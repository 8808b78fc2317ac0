package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/compiler"
)

// mustPlan plans a case and fails on any error.
func mustPlan(t *testing.T, dir string, paths ...string) []byte {
	t.Helper()
	b, _, errText := planCase(t, dir, compiler.Options{}, paths...)
	if errText != nil {
		t.Fatalf("plan %v in %s: %s", paths, dir, errText)
	}
	return b
}

// TestPlanFromAnotherDirectory: the same manifest named from another
// working directory, or by an absolute path, gives the same bytes.
func TestPlanFromAnotherDirectory(t *testing.T) {
	for _, name := range []string{"example", "multi-file", "smolmachines-codex"} {
		t.Run(name, func(t *testing.T) {
			dir, err := filepath.Abs(filepath.Join(goldenDir, name))
			if err != nil {
				t.Fatal(err)
			}
			want := mustPlan(t, dir, "manifest")
			for _, c := range []struct{ wd, path string }{
				{filepath.Dir(dir), filepath.Join(name, "manifest")},
				{filepath.Join(dir, "manifest"), "."},
				{t.TempDir(), filepath.Join(dir, "manifest")},
			} {
				if got := mustPlan(t, c.wd, c.path); !bytes.Equal(got, want) {
					t.Errorf("planned from %s as %s: different bytes", c.wd, c.path)
				}
			}
		})
	}
}

// TestPlanFileOrder: the files of a multi-file manifest listed in every
// order give the same bytes as the directory.
func TestPlanFileOrder(t *testing.T) {
	dir := filepath.Join(goldenDir, "multi-file")
	want := mustPlan(t, dir, "manifest")
	files := []string{"manifest/agents.cue", "manifest/bottles.yaml", "manifest/project.json"}
	orders := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, o := range orders {
		paths := []string{files[o[0]], files[o[1]], files[o[2]]}
		if got := mustPlan(t, dir, paths...); !bytes.Equal(got, want) {
			t.Errorf("files in order %v: different bytes", paths)
		}
	}
}

// TestPlanShuffledKeys: the JSON manifest rewritten with every object's
// keys in a random order (seeded) gives the same bytes.
func TestPlanShuffledKeys(t *testing.T) {
	src := filepath.Join(goldenDir, "json-manifest", "manifest", "bottleplan.json")
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	want := mustPlan(t, filepath.Dir(src), "bottleplan.json")
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 5 {
		dir := t.TempDir()
		var buf bytes.Buffer
		writeShuffled(&buf, doc, rng)
		if err := os.WriteFile(filepath.Join(dir, "bottleplan.json"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := mustPlan(t, dir, "bottleplan.json"); !bytes.Equal(got, want) {
			t.Fatalf("shuffle %d gave different bytes; manifest:\n%s", i, buf.Bytes())
		}
	}
}

// writeShuffled writes v as JSON with the keys of every object in a
// random order (lists keep their order: it is meaningful).
func writeShuffled(buf *bytes.Buffer, v any, rng *rand.Rand) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			buf.Write(kb)
			buf.WriteByte(':')
			writeShuffled(buf, x[k], rng)
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeShuffled(buf, e, rng)
		}
		buf.WriteByte(']')
	default:
		b, _ := json.Marshal(x)
		buf.Write(b)
	}
}

// TestPlanHasNoHostValues: with a canary value in every env variable the
// manifests name (and HOME, so "~/" paths could not be expanded into
// it), no plan or review contains the canary or the absolute path of the
// manifests.
func TestPlanHasNoHostValues(t *testing.T) {
	const canary = "canary-8d2f61-must-not-appear"
	for _, n := range []string{
		"HOST_GH_PAT", "HOST_DOCS_TOKEN", "HOST_GIT_TOKEN", "HOST_Z", "NPM_TOKEN",
		"CLAUDE_CODE_OAUTH_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
		"HOST_GITLAB_TOKEN", "HOST_JIRA_BASIC", "GH_TOKEN", "JIRA_TOKEN", "USER", "HOME",
	} {
		t.Setenv(n, canary)
	}
	abs, err := filepath.Abs(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	for _, dir := range goldenCases(t) {
		planJSON, review, errText := planCase(t, dir, caseOptions(t, dir), "manifest")
		for what, b := range map[string][]byte{"plan": planJSON, "review": review, "errors": errText} {
			for _, bad := range []string{canary, abs, wd} {
				if bytes.Contains(b, []byte(bad)) {
					t.Errorf("%s: %s contains %q", filepath.Base(dir), what, bad)
				}
			}
		}
	}
}

// BenchmarkPlanPipeline1000 runs what `bottleplan plan --json` does, in
// process, on a 1000-agent manifest: schema.Load, compiler.Compile,
// plan.Encode and plan.Render. Rerun with:
//
//	go test ./cmd/bottleplan -run '^$' -bench PlanPipeline1000 -benchtime 3x -benchmem
func BenchmarkPlanPipeline1000(b *testing.B) {
	dir := b.TempDir()
	var y strings.Builder
	y.WriteString("version: 1\nproject: bench\nbottles:\n  claude:\n    agent_provider: {auth_token: CLAUDE_CODE_OAUTH_TOKEN}\n")
	y.WriteString("    env: {LANG: C.UTF-8, GH_TOKEN: \"${HOST_GH_PAT}\"}\n")
	y.WriteString("    egress:\n      routes:\n        - host: pypi.org\n        - host: api.github.com\n          auth: {scheme: Bearer, token_ref: HOST_GH_PAT}\n")
	y.WriteString("agents:\n")
	for i := range 1000 {
		fmt.Fprintf(&y, "  agent-%04d: {bottle: claude, prompt: \"Task %d.\"}\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "bottleplan.yaml"), []byte(y.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		planJSON, _, errText := planCase(b, dir, compiler.Options{}, "bottleplan.yaml")
		if errText != nil {
			b.Fatalf("%s", errText)
		}
		if len(planJSON) == 0 {
			b.Fatal("empty plan")
		}
	}
}
