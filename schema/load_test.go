package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestFormatsEqual: the same manifest written in YAML, JSON and CUE loads
// to identical Go values.
func TestFormatsEqual(t *testing.T) {
	want, err := Load("testdata/formats/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"manifest.json", "manifest.cue"} {
		t.Run(name, func(t *testing.T) {
			got, err := Load(filepath.Join("testdata/formats", name))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("%s differs from manifest.yaml (-yaml +%s):\n%s", name, name, d)
			}
		})
	}
}

// TestSplitEqualsWhole: a manifest split across a YAML and a CUE file in
// one directory loads to the same value as the whole file, whether the
// directory or the two files are given.
func TestSplitEqualsWhole(t *testing.T) {
	want, err := Load("testdata/formats/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, paths := range map[string][]string{
		"directory": {"testdata/split"},
		"files":     {"testdata/split/a.yaml", "testdata/split/b.cue"},
		"reversed":  {"testdata/split/b.cue", "testdata/split/a.yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Load(paths...)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("split differs from whole (-whole +split):\n%s", d)
			}
		})
	}
}

// TestExampleGolden pins the resolved example (extends, defaults, prompt
// text, Dockerfile digest) as JSON; rewrite with -update.
func TestExampleGolden(t *testing.T) {
	m, err := Load("../examples/bottleplan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := "testdata/example.golden.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("resolved example differs from %s (rerun with -update if intended):\n%s", golden, cmp.Diff(string(want), string(got)))
	}
}

// TestMerge checks the extends merge rules on a small manifest.
func TestMerge(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "m.yaml", `version: 1
bottles:
  base:
    agent_provider: {template: codex, auth_token: TOK, image: img}
    env: {A: "1", B: "2"}
    git_gate:
      user: {name: Base, email: base@example.com}
      repos:
        r: {url: "git@h.example:a/b.git", key: {provider: static, path: ~/.ssh/k}, host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"}
    egress: {routes: [{host: a.example.com}]}
    supervise: true
    runtime: runsc
    backend: smolmachines
    resources: {cpus: 2}
  child:
    extends: base
    agent_provider: {auth_token: TOK2}
    env: {B: "${HOST_B}", C: "?"}
    git_gate:
      user: {name: Child}
      repos: {}
  grandchild:
    extends: child
    egress: {routes: []}
    supervise: false
agents:
  a: {bottle: grandchild}
`)
	m, err := Load(filepath.Join(dir, "m.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g := m.Bottles["grandchild"]
	want := &Bottle{
		Name:          "grandchild",
		Chain:         []string{"base", "child", "grandchild"},
		AgentProvider: AgentProvider{Template: "codex", AuthToken: "TOK2", Image: "img"},
		Env: map[string]EnvValue{
			"A": {Kind: EnvLiteral, Value: "1"},
			"B": {Kind: EnvFromHost, Value: "HOST_B"},
			"C": {Kind: EnvPrompted, Value: ""},
		},
		GitGate:   GitGate{User: GitUser{Name: "Child", Email: "base@example.com"}, Repos: map[string]Repo{}},
		Egress:    Egress{Routes: []Route{}},
		Supervise: false,
		Resources: &Resources{CPUs: 2, Pids: 4096},
		Runtime:   "runsc",
		Backend:   "smolmachines",
		// child replaced env.B and the repos, grandchild the egress.
		Replaces: []string{"egress", "env", "git_gate.repos"},
	}
	if d := cmp.Diff(want, g); d != "" {
		t.Errorf("grandchild (-want +got):\n%s", d)
	}
	var warned []string
	for _, w := range m.Warnings {
		warned = append(warned, w.Path)
	}
	if d := cmp.Diff([]string{"bottles.child.env.B", "bottles.child.git_gate.repos", "bottles.grandchild.egress"}, warned); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
	c := m.Bottles["child"]
	if got := c.Egress.Routes; len(got) != 1 || got[0].DLP.OutboundOnMatch != "supervise" || got[0].Ports[0] != 443 {
		t.Errorf("child routes = %+v, want the inherited route with dlp supervise and port 443", got)
	}
	if m.Project != "bottleplan" || m.Defaults != (Defaults{Backend: "docker", AddressPool: "10.231.0.0/16", SubnetPrefix: 28}) {
		t.Errorf("defaults not applied: project %q, %+v", m.Project, m.Defaults)
	}
}

// TestErrorsSortedAndRelative checks the error list shape: every error,
// sorted, with file paths relative to the working directory.
func TestErrorsSortedAndRelative(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "b.yaml", "agents:\n  x: {bottle: nope}\n")
	writeFile(t, dir, "a.yaml", "version: 1\nbottles:\n  dev: {runtime: podman}\n")
	_, err := LoadWith(Options{Dir: dir}, ".")
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want Errors", err)
	}
	want := strings.Join([]string{
		`a.yaml:3:18: bottles.dev.runtime: "podman" is not one of "auto", "runc", "runsc"`,
		`b.yaml:2:15: agents.x.bottle: bottle "nope" does not exist`,
	}, "\n")
	if got := errs.Error(); got != want {
		t.Errorf("errors:\n%s\nwant:\n%s", got, want)
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFailureNeverEmpty: a failed Load always says something. Evaluator
// errors dropped as covered by another are reported when nothing else
// was, and with nothing at all one error names the manifest.
func TestFailureNeverEmpty(t *testing.T) {
	l := &loader{first: "m.yaml"}
	want := Errors{{File: "m.yaml", Message: "the manifest is not valid, but no check said why: please report this as a bottleplan bug, with the manifest"}}
	if d := cmp.Diff(want, l.failure()); d != "" {
		t.Errorf("nothing reported (-want +got):\n%s", d)
	}
	dropped := Error{File: "m.cue", Line: 2, Column: 3, Path: "bottles.b", Message: "field not allowed"}
	l.dropped = Errors{dropped}
	if d := cmp.Diff(Errors{dropped}, l.failure()); d != "" {
		t.Errorf("only dropped errors (-want +got):\n%s", d)
	}
	reported := Error{File: "m.cue", Line: 1, Column: 1, Path: "version", Message: "x"}
	l.errs = Errors{reported}
	if d := cmp.Diff(Errors{reported}, l.failure()); d != "" {
		t.Errorf("reported beside dropped (-want +got):\n%s", d)
	}
}

func TestSuperviseHoldTimeout(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "m.cue", `version: 1
bottles: {
	on: supervise: true
	empty: supervise: {}
	timed: supervise: hold_timeout: "1h30m"
	child: {extends: "timed", supervise: true}
	off: {extends: "timed", supervise: false}
	inherits: extends: "timed"
	never: {}
}
agents: a: bottle: "on"
`)
	m, err := Load(filepath.Join(dir, "m.cue"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"on": 5 * time.Minute, "empty": 5 * time.Minute, "timed": 90 * time.Minute,
		"child": 5 * time.Minute, "off": 0, "inherits": 90 * time.Minute, "never": 0}
	for name, w := range want {
		b := m.Bottles[name]
		if b.HoldTimeout != w || b.Supervise != (w != 0) {
			t.Errorf("%s: supervise %v, hold timeout %v; want %v", name, b.Supervise, b.HoldTimeout, w)
		}
	}
}
