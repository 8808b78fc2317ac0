package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
)

// compiledManifest is a 3-agent manifest on three bottles with pinned
// subnets; %[1]s is the project, %[2]s the agent image, %[3]s a /24
// prefix ("10.x.y"), %[4]s bottle b's extra route.
const compiledManifest = `version: 1
project: %[1]s
bottles:
  base:
    agent_provider:
      auth_token: CLAUDE_CODE_OAUTH_TOKEN
      image: %[2]s
    egress:
      routes:
        - host: pypi.org
  a:
    extends: base
    network: {subnet: %[3]s.0/28}
  b:
    extends: base
    egress:
      routes:
        - host: pypi.org
%[4]s    network: {subnet: %[3]s.16/28}
  c:
    extends: base
    network: {subnet: %[3]s.32/28}
agents:
  alpha: {bottle: a, prompt: "You are alpha."}
  beta: {bottle: b, prompt: "You are beta."}
  gamma: {bottle: c, prompt: "You are gamma."}
`

// TestCompiledPlanRouteChange runs the whole pipeline on the real
// Engine: plan a manifest, apply it, change one bottle's routes, plan
// again, and check apply replaces exactly that instance's bundle; then
// remove an agent and check --prune deletes only its resources.
func TestCompiledPlanRouteChange(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	image := dockertest.AgentImage(t, eng)
	var r [2]byte
	rand.Read(r[:])
	net24 := fmt.Sprintf("10.%d.%d", 128+int(r[0])%127, r[1])
	dir := t.TempDir()
	manifest := filepath.Join(dir, "bottleplan.yaml")
	write := func(extraRoute string, drop string) {
		t.Helper()
		m := fmt.Sprintf(compiledManifest, project, image, net24, extraRoute)
		if drop != "" {
			m = strings.Replace(m, drop, "", 1)
		}
		if err := os.WriteFile(manifest, []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := &cli{t: t, env: map[string]string{"XDG_STATE_HOME": t.TempDir(), "CLAUDE_CODE_OAUTH_TOKEN": "test-token"}}
	bin := "--bundle-binary=" + dockertest.BundleBinary(t)
	planPath := filepath.Join(dir, "plan.json")
	run := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := c.run(args...)
		if code != want {
			t.Fatalf("bottleplan %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out
	}

	write("", "")
	run(exitOK, "plan", "-f", manifest, "-o", planPath)
	if out := run(exitOK, "apply", planPath, "-f", manifest, "--auto-approve", bin); !strings.Contains(out, "Apply complete: 10 created") {
		t.Fatalf("first apply:\n%s", out)
	}
	run(exitOK, "status", planPath, "--detailed-exitcode")

	write("        - host: registry.npmjs.org\n", "")
	run(exitRefused, "apply", planPath, "-f", manifest, "--dry-run")
	run(exitOK, "plan", "-f", manifest, "-o", planPath)
	out := run(exitChanges, "apply", planPath, "-f", manifest, "--dry-run", "--detailed-exitcode")
	ops := opLinesOf(out)
	// A new route host is outside the instance CA's name constraints:
	// a new CA, so the agent, which trusts the CA, is replaced too.
	uncovered := "route host registry.npmjs.org is outside the bundle's CA name constraints"
	want := []string{
		"-/+ beta bundle " + project + "-beta-bundle replace: config hash changed (bundle: proxy.routes); new instance CA (" + uncovered + ")",
		"-/+ beta agent " + project + "-beta-agent replace: instance CA regenerated (" + uncovered + ")",
	}
	if strings.Join(ops, "\n") != strings.Join(want, "\n") {
		t.Fatalf("a route change of bottle b: ops\n%s\nwant\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
	run(exitOK, "apply", planPath, "-f", manifest, "--auto-approve", bin)
	run(exitOK, "status", planPath, "--detailed-exitcode")

	write("        - host: registry.npmjs.org\n", `  gamma: {bottle: c, prompt: "You are gamma."}`+"\n")
	run(exitOK, "plan", "-f", manifest, "-o", planPath)
	out = run(exitOK, "apply", planPath, "-f", manifest, "--auto-approve", "--prune", bin)
	ops = opLinesOf(out)
	if len(ops) != 3 {
		t.Fatalf("removing gamma: ops\n%s\nwant its 3 deletes", strings.Join(ops, "\n"))
	}
	for _, op := range ops {
		if !strings.HasPrefix(op, "- gamma ") {
			t.Errorf("removing gamma touched %q", op)
		}
	}
	run(exitOK, "destroy", planPath, "--auto-approve")
	if left := dockertest.Owned(t, eng, project); len(left) != 0 {
		t.Fatalf("destroy left %v", left)
	}
}

// opLinesOf returns the op lines of apply's change listing, with runs of
// spaces made one.
func opLinesOf(out string) []string {
	var ops []string
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		for _, sym := range []string{"+  ", "~  ", "-/+  ", "-  "} {
			if strings.HasPrefix(t, sym) {
				ops = append(ops, strings.Join(strings.Fields(t), " "))
				break
			}
		}
	}
	return ops
}

// TestCompiledPlanDockerfile: an agent image built from a Dockerfile the
// manifest names (relative to the manifest file), checked against the
// digest the loader computed; without -f it is looked for next to the
// plan, and its absence stops apply before anything is created.
func TestCompiledPlanDockerfile(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf", "docker"), 0o755)
	df := filepath.Join(dir, "conf", "docker", "agent.Dockerfile")
	os.WriteFile(df, []byte("FROM "+dockertest.AgentImage(t, eng)+"\n"), 0o644)
	manifest := filepath.Join(dir, "conf", "bottleplan.yaml")
	os.WriteFile(manifest, []byte(fmt.Sprintf(`version: 1
project: %s
bottles:
  b:
    agent_provider: {dockerfile: docker/agent.Dockerfile}
agents:
  built: {bottle: b, prompt: "Build."}
`, project)), 0o644)
	planPath := filepath.Join(dir, "plan.json")
	c := &cli{t: t, env: map[string]string{"XDG_STATE_HOME": t.TempDir()}}
	bin := "--bundle-binary=" + dockertest.BundleBinary(t)
	if code, out, errOut := c.run("plan", "-f", manifest, "-o", planPath); code != 0 {
		t.Fatalf("plan: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := c.run("apply", planPath, "-f", manifest, "--auto-approve", bin)
	// The image apply built from the Dockerfile is FROM this process's
	// agent image, so its content tag is this run's: remove it at the end.
	if ref := regexp.MustCompile(`bottleplan-agent:[0-9a-f]{16}`).FindString(out + errOut); ref != "" {
		t.Cleanup(func() {
			c.run("destroy", planPath, "--auto-approve")
			if err := dockertest.RemoveImage(eng, ref); err != nil {
				t.Error(err)
			}
		})
	}
	if code != 0 || !strings.Contains(out, "Apply complete: 4 created") {
		t.Fatalf("apply: %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := c.run("status", planPath, "--detailed-exitcode"); code != 0 {
		t.Fatalf("status: %d\n%s", code, out)
	}
	// Without -f the Dockerfile resolves from the plan's directory, where
	// it is not: apply says so before changing anything.
	c.run("destroy", planPath, "--auto-approve")
	if code, _, errOut := c.run("apply", planPath, "--auto-approve", bin); code != exitError || !strings.Contains(errOut, "read dockerfile") {
		t.Fatalf("apply without -f: exit %d, %s", code, errOut)
	}
	if left := dockertest.Owned(t, eng, project); len(left) != 0 {
		t.Fatalf("a failed image step left %v", left)
	}
}
