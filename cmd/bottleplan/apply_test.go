package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

// cli runs bottleplan in-process with the given environment and returns
// the exit code and output.
type cli struct {
	t   *testing.T
	env map[string]string
	// tty and stdin pretend a terminal for the next run.
	tty   bool
	stdin string
	out   []string // every output, for the canary check
	outMu sync.Mutex
}

func (c *cli) run(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	e := &env{
		ctx: context.Background(), stdin: strings.NewReader(c.stdin), stdout: &stdout, stderr: &stderr,
		getenv: func(k string) string { return c.env[k] }, isTTY: c.tty,
	}
	code := run(e, args)
	c.outMu.Lock()
	c.out = append(c.out, stdout.String(), stderr.String())
	c.outMu.Unlock()
	return code, stdout.String(), stderr.String()
}

// must runs bottleplan with args and fails the test unless it exits
// with want; it returns stdout and stderr.
func (c *cli) must(want int, args ...string) (string, string) {
	c.t.Helper()
	code, out, errOut := c.run(args...)
	if code != want {
		c.t.Fatalf("bottleplan %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

// writePlan encodes p into dir/plan.json.
func writePlan(t *testing.T, dir string, p *plan.Plan) string {
	t.Helper()
	b, err := plan.Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Canary secrets: from the host env, from --env-file, in an ssh key file.
const (
	canary  = "canary-7f3a9c-secret-value"
	canary2 = "canary-prompted-51d2e0"
	canary3 = "canary-ssh-key-9b41c7"
)

// TestApplyStatusDestroy drives the commands on the real Engine: refusals
// that change nothing, dry run, apply, no-op, status, drift repair and
// destroy, and checks a host secret never shows outside the agent's env.
func TestApplyStatusDestroy(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	dir := t.TempDir()
	state := t.TempDir()
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "alpha", "beta")
	p.Instances[0].EnvFromHost = map[string]string{"GH_TOKEN": "HOST_GH_PAT"}
	p.Instances[0].Bundle.SecretsFromHost = []string{"HOST_GH_PAT"}
	p.Instances[1].EnvPrompted = map[string]string{"JIRA_TOKEN": "Paste a Jira token"}
	a := &p.Instances[0]
	a.Bundle.GitGate = &plan.GitGate{Listen: fmt.Sprintf("%s:%d", a.Network.BundleIP, plan.GitGatePort), Repos: []plan.Repo{{
		Name: "app", Upstream: "ssh://git@git.example.com/acme/app.git", GateURL: fmt.Sprintf("http://%s:%d/app.git", a.Network.BundleIP, plan.GitGatePort),
		Access: "read", KeyProvider: "static", KeyPath: "~/.ssh/id_app",
	}}}
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	os.WriteFile(filepath.Join(home, ".ssh", "id_app"), []byte(canary3), 0o600)
	planPath := writePlan(t, dir, p)
	envFile := filepath.Join(t.TempDir(), "secrets.env")
	os.WriteFile(envFile, []byte("# asked for at apply\nJIRA_TOKEN="+canary2+"\n"), 0o600)
	bin := "--bundle-binary=" + dockertest.BundleBinary(t)
	c := &cli{t: t, env: map[string]string{"XDG_STATE_HOME": state, "HOME": home}}

	expect := func(wantCode int, want string, args ...string) string {
		t.Helper()
		code, out, errOut := c.run(args...)
		if code != wantCode || !strings.Contains(out+errOut, want) {
			t.Fatalf("bottleplan %s: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, want, out, errOut)
		}
		return out
	}
	nothingLive := func(when string) {
		t.Helper()
		if left := dockertest.Owned(t, eng, project); len(left) != 0 {
			t.Fatalf("%s: resources exist: %v", when, left)
		}
	}

	expect(exitError, "host secrets missing: HOST_GH_PAT", "apply", planPath, "--auto-approve", bin)
	nothingLive("missing host variable")
	c.env["HOST_GH_PAT"] = canary
	expect(exitError, "refusing to change live resources without confirmation", "apply", planPath, bin)
	nothingLive("no TTY, no --auto-approve")
	out := expect(exitChanges, "Dry run: nothing changed.", "apply", planPath, "--dry-run", "--detailed-exitcode")
	if !regexp.MustCompile(`\+\s+alpha\s+network-internal`).MatchString(out) || !regexp.MustCompile(`\+\s+\(project\)\s+network-egress`).MatchString(out) || !strings.Contains(out, "create: not found") {
		t.Errorf("dry run output lacks ops with causes:\n%s", out)
	}
	nothingLive("dry run")
	expect(exitChanges, "missing", "status", planPath, "--detailed-exitcode")
	expect(exitChanges, `"state": "missing"`, "status", planPath, "--json", "--detailed-exitcode")

	expect(exitError, `JIRA_TOKEN (agent "beta") is asked for at apply, but stdin is not a terminal; give it in a file with --env-file`, "apply", planPath, "--auto-approve", bin)
	nothingLive("prompted value without a terminal")
	// This test binary has no bottleplan-bundle beside it (as under go
	// run): apply says how to get one before it changes anything.
	expect(exitError, "install both with: CGO_ENABLED=0 go install ./cmd/...", "apply", planPath, "--auto-approve", "--env-file", envFile)
	nothingLive("no bundle binary")
	out = expect(exitOK, "Apply complete: 7 created", "apply", planPath, "--auto-approve", "--env-file", envFile, bin)
	if !strings.Contains(out, "alpha: agent "+p.Instances[0].Agent.ContainerName+" started") {
		t.Errorf("no progress line for alpha's agent:\n%s", out)
	}
	// An apply that builds no bundle image needs no bundle binary.
	expect(exitOK, "No changes", "apply", planPath, "--auto-approve")
	expect(exitOK, "all 2 instances in sync", "status", planPath, "--detailed-exitcode")

	// The canary reached the agent and the bundle, and nothing else.
	agent, err := eng.ContainerInspect(context.Background(), p.Instances[0].Agent.ContainerName)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(agent.Config.Env, "GH_TOKEN="+canary) {
		t.Errorf("agent env lacks GH_TOKEN from the host")
	}
	bundle, err := eng.ContainerInspect(context.Background(), p.Instances[0].Bundle.ContainerName)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(bundle.Config.Env, "HOST_GH_PAT="+canary) {
		t.Errorf("bundle env lacks its host secret HOST_GH_PAT")
	}
	rc, st, err := eng.CopyFromContainer(context.Background(), bundle.ID, plan.BundleSSHKeyDir+"/app")
	if err != nil {
		t.Fatalf("ssh key not in the bundle: %v", err)
	}
	rc.Close()
	if st.Mode.Perm() != 0o600 || st.Size != int64(len(canary3)) {
		t.Errorf("ssh key in the bundle: mode %v size %d, want 0600 and %d bytes", st.Mode.Perm(), st.Size, len(canary3))
	}
	beta, err := eng.ContainerInspect(context.Background(), p.Instances[1].Agent.ContainerName)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(beta.Config.Env, "JIRA_TOKEN="+canary2) {
		t.Errorf("beta's env lacks JIRA_TOKEN from the env file")
	}
	checkNoCanary(t, eng, project, planPath, state, c.out)

	// A rotated host secret is not seen; --replace rolls it out to that
	// instance only, asking for no other instance's values.
	c.env["HOST_GH_PAT"] = canary + "-rotated"
	expect(exitOK, "No changes", "apply", planPath, "--auto-approve", bin)
	expect(exitError, `--replace "gamma": the plan has no instance of that name`, "apply", planPath, "--replace", "gamma", "--auto-approve", bin)
	out = expect(exitOK, "Apply complete: 0 created, 0 updated, 2 replaced, 0 deleted.", "apply", planPath, "--replace", "alpha", "--auto-approve", bin)
	if !strings.Contains(out, "replace: asked for with --replace") {
		t.Errorf("--replace output lacks the cause:\n%s", out)
	}
	bundle, err = eng.ContainerInspect(context.Background(), p.Instances[0].Bundle.ContainerName)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(bundle.Config.Env, "HOST_GH_PAT="+canary+"-rotated") {
		t.Errorf("bundle env lacks the rotated HOST_GH_PAT after --replace")
	}
	expect(exitOK, "all 2 instances in sync", "status", planPath, "--detailed-exitcode")
	checkNoCanary(t, eng, project, planPath, state, c.out)

	// An altered plan is refused.
	altered := filepath.Join(dir, "altered.json")
	b, _ := os.ReadFile(planPath)
	os.WriteFile(altered, bytes.Replace(b, []byte("You are alpha"), []byte("You are Alpha"), 1), 0o644)
	expect(exitRefused, "plan refused", "apply", altered, "--auto-approve", bin)

	// Drift: a stopped agent is reported and started again.
	if err := eng.ContainerStop(context.Background(), p.Instances[1].Agent.ContainerName, container.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(exitChanges, "beta   drifted: agent not running", "status", planPath, "--detailed-exitcode")
	out = expect(exitChanges, `"cause": "not running (exited, exit code 0); start it"`, "status", planPath, "--json", "--detailed-exitcode")
	if !strings.Contains(out, `"slug": "beta",`+"\n      \"state\": \"drifted\"") || !strings.Contains(out, `"in_sync": false`) {
		t.Errorf("status --json does not say beta drifted:\n%s", out)
	}
	expect(exitOK, "~  beta  agent  ", "apply", planPath, "--auto-approve", bin)
	expect(exitOK, "in sync", "status", planPath, "--detailed-exitcode")
	expect(exitOK, `"in_sync": true`, "status", planPath, "--json", "--detailed-exitcode")

	// An instance the plan does not hold is an error, and nothing goes.
	expect(exitError, `no instance "nosuch" in the plan (it has: alpha, beta)`, "destroy", planPath, "--instance", "nosuch", "--auto-approve")
	// alpha is still on the project's egress network: beta's 3 go.
	expect(exitOK, "Destroy complete: 3 resources removed", "destroy", planPath, "--instance", "beta", "--auto-approve")
	expect(exitOK, "Destroy complete: 4 resources removed", "destroy", planPath, "--auto-approve")
	nothingLive("destroy")
	expect(exitOK, "Nothing to destroy", "destroy", planPath, "--auto-approve")
	checkNoCanary(t, eng, project, planPath, state, c.out)
}

// TestConcurrentApplies runs two applies of one project at once: one
// waits for the other's lock, both succeed, and the end state is the
// plan's.
func TestConcurrentApplies(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "one", "two")
	planPath := writePlan(t, t.TempDir(), p)
	bin := "--bundle-binary=" + dockertest.BundleBinary(t)
	c := &cli{t: t, env: map[string]string{"XDG_STATE_HOME": t.TempDir()}}

	var wg sync.WaitGroup
	codes, errs := make([]int, 2), make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, errs[i] = c.run("apply", planPath, "--auto-approve", bin)
		}()
	}
	wg.Wait()
	if codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("exit codes %v; stderr: %q", codes, errs)
	}
	if !strings.Contains(errs[0]+errs[1], "Waiting for another apply or destroy") {
		t.Errorf("neither apply waited for the lock: %q", errs)
	}
	code, out, _ := c.run("status", planPath, "--detailed-exitcode")
	if code != 0 {
		t.Fatalf("status after concurrent applies: exit %d\n%s", code, out)
	}
	if got := len(dockertest.Owned(t, eng, project)); got != 7 {
		t.Errorf("%d resources, want 7", got)
	}
}

// TestApplyAsksOnATerminal: on a terminal apply asks y/N (no changes
// unless yes), then asks for prompted values.
func TestApplyAsksOnATerminal(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "solo")
	p.Instances[0].EnvPrompted = map[string]string{"JIRA_TOKEN": "Paste a Jira token"}
	planPath := writePlan(t, t.TempDir(), p)
	bin := "--bundle-binary=" + dockertest.BundleBinary(t)
	c := &cli{t: t, env: map[string]string{"XDG_STATE_HOME": t.TempDir()}, tty: true}

	c.stdin = "n\n"
	code, out, _ := c.run("apply", planPath, bin)
	if code != exitError || !strings.Contains(out, "Apply these changes? [y/N] Cancelled; nothing changed.") {
		t.Fatalf("answer n: exit %d\n%s", code, out)
	}
	if left := dockertest.Owned(t, eng, project); len(left) != 0 {
		t.Fatalf("answer n changed something: %v", left)
	}
	c.stdin = "y\n" + canary2 + "\n"
	code, out, errOut := c.run("apply", planPath, bin)
	if code != exitOK || !strings.Contains(errOut, "Paste a Jira token for JIRA_TOKEN (solo): ") {
		t.Fatalf("answer y: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	agent, err := eng.ContainerInspect(context.Background(), p.Instances[0].Agent.ContainerName)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(agent.Config.Env, "JIRA_TOKEN="+canary2) {
		t.Error("the typed value did not reach the agent")
	}
	if strings.Contains(out+errOut, canary2) {
		t.Error("the typed value was echoed")
	}
}

// TestLockTimeout: an apply that cannot get the lock in time fails and
// changes nothing.
func TestLockTimeout(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	p := dockertest.Plan(project, "unused", "one")
	planPath := writePlan(t, t.TempDir(), p)
	c := &cli{t: t, env: map[string]string{"XDG_STATE_HOME": t.TempDir()}}
	holder := &env{ctx: context.Background(), stderr: &bytes.Buffer{}, getenv: func(k string) string { return c.env[k] }}
	unlock, err := lockProject(holder, project, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	start := time.Now()
	code, _, errOut := c.run("apply", planPath, "--auto-approve", "--lock-timeout=300ms")
	if code != exitError || !strings.Contains(errOut, "is locked by another apply or destroy") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Errorf("gave up before the timeout")
	}
	if left := dockertest.Owned(t, eng, project); len(left) != 0 {
		t.Errorf("resources exist: %v", left)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// checkNoCanary fails if the canary shows in the plan file, a label of
// any project resource, a file under the state dir, or any output.
func checkNoCanary(t *testing.T, eng docker.Engine, project, planPath, state string, outputs []string) {
	t.Helper()
	has := func(s string) bool {
		return strings.Contains(s, canary) || strings.Contains(s, canary2) || strings.Contains(s, canary3)
	}
	if b, _ := os.ReadFile(planPath); has(string(b)) {
		t.Error("canary in the plan file")
	}
	for i, o := range outputs {
		if has(o) {
			t.Errorf("canary in output %d: %q", i, o)
		}
	}
	filepath.Walk(state, func(path string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if b, _ := os.ReadFile(path); has(string(b)) {
				t.Errorf("canary in state file %s", path)
			}
		}
		return nil
	})
	f := filters.NewArgs(filters.Arg("label", executor.LabelProject+"="+project))
	cs, _ := eng.ContainerList(context.Background(), container.ListOptions{All: true, Filters: f})
	ns, _ := eng.NetworkList(context.Background(), network.ListOptions{Filters: f})
	var labels []map[string]string
	for _, c := range cs {
		labels = append(labels, c.Labels)
		if has(c.Command) {
			t.Errorf("canary in the argv of %s", c.Names[0])
		}
	}
	for _, n := range ns {
		labels = append(labels, n.Labels)
	}
	for _, l := range labels {
		for k, v := range l {
			if has(k + v) {
				t.Errorf("canary in label %s", k)
			}
		}
	}
}
