package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
)

// TestApplySmolmachines drives dry run, apply, re-apply, status and
// destroy of a smolmachines instance: its network and bundle on the real
// Engine, its agent a machine of the fake smolvm (this machine has no
// KVM), reached through BOTTLEPLAN_SMOLVM as a user would configure it.
func TestApplySmolmachines(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)

	bin := t.TempDir()
	fake := filepath.Join(bin, "smolvm")
	build := exec.Command("go", "build", "-o", fake, "../../executor/smolvm/testdata/fakesmolvm")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build fake smolvm: %v\n%s", err, out)
	}
	fakeState, fakeLog := t.TempDir(), filepath.Join(t.TempDir(), "argv.jsonl")
	t.Setenv("FAKESMOLVM_STATE", fakeState)
	t.Setenv("FAKESMOLVM_LOG", fakeLog)

	p := dockertest.SmolPlan(project, dockertest.AgentImage(t, eng))
	planPath := writePlan(t, t.TempDir(), p)
	state := t.TempDir()
	c := &cli{t: t, env: map[string]string{
		"XDG_STATE_HOME": state, "HOME": t.TempDir(), "HOST_ANTHROPIC_KEY": canary,
		"BOTTLEPLAN_SMOLVM": fake, "BOTTLEPLAN_CACHE_DIR": t.TempDir(),
	}}
	bundleBin := "--bundle-binary=" + dockertest.BundleBinary(t)

	expect := func(wantCode int, want string, args ...string) string {
		t.Helper()
		code, out, errOut := c.run(args...)
		if code != wantCode || !strings.Contains(out+errOut, want) {
			t.Fatalf("bottleplan %s: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, want, out, errOut)
		}
		return out
	}
	machines := func() []string {
		ms, _ := filepath.Glob(filepath.Join(fakeState, "*.json"))
		return ms
	}

	out := expect(exitChanges, "Dry run: nothing changed.", "apply", planPath, "--dry-run", "--detailed-exitcode")
	for _, want := range []string{
		"smolvm commands:",
		"smolvm machine create --name " + project + "-a --from ",
		" --net --net-backend virtio-net --allow-cidr " + p.Instances[0].Network.AllowCIDR + " --allow-host " + p.Instances[0].Network.BundleIP + " ",
		"BOTTLEPLAN_SECRET_ANTHROPIC_API_KEY=<from $HOST_ANTHROPIC_KEY> smolvm machine exec --name " + project + "-a -d --secret-env ANTHROPIC_API_KEY=BOTTLEPLAN_SECRET_ANTHROPIC_API_KEY -- /sleeper",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if left := dockertest.Owned(t, eng, project); len(left) != 0 || len(machines()) != 0 {
		t.Fatalf("dry run made resources: %v %v", left, machines())
	}

	expect(exitOK, "Apply complete: 3 created", "apply", planPath, "--auto-approve", bundleBin)
	if len(machines()) != 1 {
		t.Fatalf("machines after apply: %v", machines())
	}
	expect(exitOK, "No changes", "apply", planPath, "--auto-approve", bundleBin)
	expect(exitOK, "in sync", "status", planPath, "--detailed-exitcode")

	// verify probes from inside the machine; with the gateway forwarding
	// every lookup (smolvm without an allow-host list), it fails.
	out = expect(exitOK, "Verify: all 4 checks passed", "verify", planPath, bundleBin)
	for _, want := range []string{"smolvm/proxy-reachable", "smolvm/other-denied", "smolvm/dns-closed", "smolvm/gateway-denied"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %s:\n%s", want, out)
		}
	}
	t.Setenv("FAKESMOLVM_DNS_OPEN", "1")
	out = expect(exitError, "failing: a smolvm/dns-closed", "verify", planPath, bundleBin)
	if !strings.Contains(out, "smolvm recorded no refusal") {
		t.Errorf("verify does not say why DNS failed:\n%s", out)
	}
	os.Unsetenv("FAKESMOLVM_DNS_OPEN")

	// exec reaches the machine through smolvm machine exec, with the
	// guest command's exit code; attach has no main process to reach.
	expect(exitOK, "", "exec", planPath, "a", "--", "true")
	if code, out, errOut := c.run("exec", planPath, "a", "--", "test", "-e", "/nosuch"); code != 1 {
		t.Errorf("exec test -e /nosuch: exit %d, want the guest's 1\n%s%s", code, out, errOut)
	}
	expect(exitError, "a machine has no main process to attach to", "attach", planPath, "a")
	if argv, _ := os.ReadFile(fakeLog); !strings.Contains(string(argv), `"exec","--name","`+project+`-a","-i","--","test","-e","/nosuch"`) {
		t.Errorf("smolvm was not asked for machine exec -i -- test -e /nosuch:\n%s", argv)
	}

	expect(exitOK, "Destroy complete: 3 resources removed", "destroy", planPath, "--auto-approve")
	if left := dockertest.Owned(t, eng, project); len(left) != 0 || len(machines()) != 0 {
		t.Errorf("left after destroy: %v %v", left, machines())
	}

	argv, _ := os.ReadFile(fakeLog)
	for _, o := range append(c.out, string(argv)) {
		if strings.Contains(o, canary) {
			t.Errorf("the host secret leaked into output or smolvm argv:\n%s", o)
		}
	}
}
