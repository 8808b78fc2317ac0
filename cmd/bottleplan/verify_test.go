package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

// TestVerifyCommand applies a plan through the CLI and verifies it:
// every check passes and exit 0; then a plan without the route is
// applied while verify still holds the first one, and verify fails with
// exit 1 naming the allowed-route probe and the bundle's config.
func TestVerifyCommand(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	const host = "tunnel.bottleplan.test"
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "solo")
	p.Instances[0].Bundle.Proxy.Routes = []plan.Route{{Host: host, Ports: []int{443}, DLP: "block"}}
	dockertest.PublicEgress(t, eng, p)
	dockertest.StartUpstream(t, eng, p, dockertest.NewUpstreamCerts(t, host), host)
	withRoute := writePlan(t, t.TempDir(), p)
	c := &cli{t: t, env: map[string]string{"XDG_STATE_HOME": t.TempDir()}}
	bin := "--bundle-binary=" + dockertest.BundleBinary(t)

	run := func(wantCode int, args ...string) string {
		t.Helper()
		code, out, errOut := c.run(args...)
		if code != wantCode {
			t.Fatalf("bottleplan %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, out, errOut)
		}
		return out
	}
	run(exitOK, "apply", withRoute, "--auto-approve", bin)

	out := run(exitOK, "verify", withRoute)
	for _, want := range []string{
		`Instance "solo" (probes from ` + p.Instances[0].Network.ProbeIP,
		"PASS  proxy-allows-route",
		"CONNECT " + host + ":443",
		"got 200",
		"PASS  routes-out",
		"Verify: all ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("verify output:\n%s", out)
	if strings.Contains(out, "FAIL") {
		t.Errorf("a check failed on a fresh apply:\n%s", out)
	}

	var rep verifyReport
	if err := json.Unmarshal([]byte(run(exitOK, "verify", withRoute, "--json", "--instance", "solo")), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || len(rep.Instances) != 1 || len(rep.Instances[0].Results) < 10 {
		t.Errorf("verify --json: %+v", rep)
	}

	// The same instance without the route: apply replaces the bundle;
	// verify against the reviewed plan must notice.
	without := *p
	without.Instances = []plan.Instance{p.Instances[0]}
	without.Instances[0].Bundle.Proxy.Routes = nil
	without.Instances[0].ConfigHash.Bundle = "sha256:bundle-solo-no-route"
	run(exitOK, "apply", writePlan(t, t.TempDir(), &without), "--auto-approve", bin)
	out = run(exitError, "verify", withRoute)
	for _, want := range []string{
		"FAIL  proxy-allows-route",
		"got 403 blocked: host " + host + " is not in the plan's egress routes",
		"FAIL  bundle-config",
		"Verify FAILED",
		"failing: solo bundle-config, solo proxy-allows-route.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify of a bundle without the route lacks %q:\n%s", want, out)
		}
	}

	// Destroyed: verify cannot run and says why.
	run(exitOK, "destroy", filepath.Clean(withRoute), "--auto-approve")
	code, out, _ := c.run("verify", withRoute)
	if code != exitError || !strings.Contains(out, `cannot verify: instance "solo" is not applied`) {
		t.Errorf("verify after destroy: exit %d\n%s", code, out)
	}
	// destroy took the test upstream too (it carries the project label);
	// verify must have left no probe container behind.
	if left := dockertest.Owned(t, eng, project); len(left) != 0 {
		t.Errorf("after destroy and verify, left: %v", left)
	}
}
