package smolvm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestMain builds the fake smolvm once and puts it first on PATH, so the
// production lookup (exec.LookPath("smolvm")) finds it.
func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fakesmolvm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "smolvm"), "./testdata/fakesmolvm")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build fake smolvm: %v\n%s", err, out)
		return 1
	}
	os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	// dockertest removes the images the hybrid tests build.
	return dockertest.Wrap(m).Run()
}

// fakeClock advances only when slept on; it records every sleep.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

// world is one fake smolvm installation: its state, argv log and the
// runner pointed at it.
type world struct {
	t     *testing.T
	dir   string
	log   string
	state string
	cache string
	probe string // stands in for bottleplan-bundle, copied into guests
	nonce atomic.Uint32
	clock *fakeClock
	out   bytes.Buffer // Runner.Log
	modes map[string]string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	w := &world{t: t, dir: dir, log: filepath.Join(dir, "argv.jsonl"), state: filepath.Join(dir, "state"),
		cache: filepath.Join(dir, "cache"), probe: filepath.Join(dir, "bottleplan-bundle"), clock: &fakeClock{now: time.Unix(1_700_000_000, 0)}, modes: map[string]string{}}
	if err := os.MkdirAll(w.cache, 0o755); err != nil {
		t.Fatal(err)
	}
	w.nonce.Store(6)
	if err := os.WriteFile(w.probe, []byte("#!probe\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return w
}

// runner is a production Runner whose child processes see the fake's
// settings and the world's failure modes.
func (w *world) runner() *Runner {
	env := append(os.Environ(), "FAKESMOLVM_LOG="+w.log, "FAKESMOLVM_STATE="+w.state)
	for k, v := range w.modes {
		env = append(env, k+"="+v)
	}
	return &Runner{Env: env, CacheDir: w.cache, Clock: w.clock, ReadyTimeout: 10 * time.Second, Log: &w.out,
		ProbeBinary: w.probe, Nonce: func() uint32 { return w.nonce.Add(1) }}
}

func (w *world) open() *Backend {
	w.t.Helper()
	b, err := Open(context.Background(), w.runner())
	if err != nil {
		w.t.Fatalf("Open: %v", err)
	}
	return b
}

// calls returns the recorded argv lines, cache paths as $CACHE, and
// clears the log.
func (w *world) calls() string {
	w.t.Helper()
	b, err := os.ReadFile(w.log)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		w.t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var rec struct{ Argv []string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			w.t.Fatalf("argv log: %v", err)
		}
		line := strings.ReplaceAll(Command{Args: rec.Argv}.Render(), w.cache, "$CACHE")
		lines = append(lines, strings.ReplaceAll(line, w.dir, "$WORLD"))
	}
	if err := os.Remove(w.log); err != nil {
		w.t.Fatal(err)
	}
	return strings.Join(lines, "\n") + "\n"
}

// rawLog is the argv log as written, for secret checks.
func (w *world) rawLog() string {
	b, _ := os.ReadFile(w.log)
	return string(b)
}

// machines reads the fake's state: name -> state file.
func (w *world) machines() map[string]map[string]any {
	w.t.Helper()
	out := map[string]map[string]any{}
	files, _ := filepath.Glob(filepath.Join(w.state, "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			w.t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			w.t.Fatal(err)
		}
		out[m["name"].(string)] = m
	}
	return out
}

// golden compares got with testdata/golden/name.txt byte for byte.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Errorf("%s mismatch (-want +got):\n%s", path, cmp.Diff(string(want), got))
	}
}

// Canary secret values: they must reach the guest and nothing else.
const (
	canaryHost   = "canary-host-7f3a9c1e"
	canaryPrompt = "canary-prompt-b52d04aa"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"

func testValues() map[string]string {
	return map[string]string{"ANTHROPIC_API_KEY": canaryHost, "GH_TOKEN": canaryPrompt}
}

// testPlan is a one-instance smolmachines plan.
func testPlan(slug string) (*plan.Plan, plan.Instance) {
	inst := plan.Instance{
		Slug:        slug,
		BottleChain: []string{"dev"},
		Backend:     plan.BackendSmolmachines,
		Network: plan.Network{
			Subnet: "10.242.7.0/29", Gateway: "10.242.7.1", BundleIP: "10.242.7.2", ProbeIP: "10.242.7.4",
			AllowCIDR:    "10.242.7.2/32",
			InternalName: "acme-" + slug + "-internal",
		},
		Agent: plan.Agent{
			Name: slug, Image: "ghcr.io/acme/claude:1", Command: []string{"claude", "--print", "hello world"},
			Resources: &plan.Resources{CPUs: 2, MemoryMiB: 2048}, MachineName: "acme-" + slug,
		},
		GuestEnv: map[string]string{
			"HTTPS_PROXY": "http://10.242.7.2:3128",
			"NO_PROXY":    "",
		},
		EnvFromHost: map[string]string{"ANTHROPIC_API_KEY": "ANTHROPIC_API_KEY"},
		EnvPrompted: map[string]string{"GH_TOKEN": "GitHub token"},
		ConfigHash:  plan.ConfigHash{Agent: "sha256:agent-" + slug},
	}
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Project: "acme", Instances: []plan.Instance{inst}, PlanDigest: "sha256:plan1"}
	return p, inst
}

func testSpec(t *testing.T, slug string) Spec {
	t.Helper()
	p, inst := testPlan(slug)
	s, err := SpecFor(p.Project, p.PlanDigest, inst, AgentImage{Ref: "./testdata/agent.tar", Digest: "sha256:0123abcd"})
	if err != nil {
		t.Fatal(err)
	}
	s.Files = []GuestFile{
		{Path: plan.GuestCAFile, Content: []byte(testCA), Mode: 0o644},
		{Path: plan.GuestPromptFile, Content: []byte("Fix the flaky test.\n"), Mode: 0o644},
	}
	s.CAFingerprint = "sha256:ca1"
	return s
}
