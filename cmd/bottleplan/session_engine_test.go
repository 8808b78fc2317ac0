package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/agentimage"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
)

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestAgentSessionOnEngine is the session with a template agent, through
// the CLI on the real Engine: apply builds the agent's image from the
// claude recipe (FROM the stand-in base, as plan --agent-base records
// it) and starts it with a terminal; status says it runs and how to
// attach; exec returns the command's output and exit code; attach,
// driven through a pty, sends a typed line to the agent, which reads it
// from its terminal and echoes it, and detaches with ctrl-p,ctrl-q,
// leaving it running; an agent that exits 3 shows as "exited 3" in
// status, and attach to it says so; destroy --rmi removes the images
// apply built.
func TestAgentSessionOnEngine(t *testing.T) {
	eng := dockertest.Engine(t)
	r, ref, err := agentimage.For("claude", dockertest.StandinBase(t, eng))
	if err != nil {
		t.Fatal(err)
	}
	// Registered before Project, so it runs after the project's
	// containers are gone.
	dockertest.CleanupImage(t, eng, ref)
	project := dockertest.Project(t, eng)
	p := dockertest.Plan(project, "", "solo")
	in := &p.Instances[0]
	in.Agent.Recipe, in.Agent.Image, in.Agent.Terminal, in.Agent.Command = r, ref, true, []string{"claude"}
	dir := t.TempDir()
	path := writePlan(t, dir, p)
	c := &cli{t: t, env: map[string]string{"XDG_STATE_HOME": t.TempDir(), "NO_COLOR": "1"}}
	must := c.must
	applyOut, _ := must(exitOK, "apply", path, "--auto-approve", "--bundle-binary="+dockertest.BundleBinary(t))
	if !strings.Contains(applyOut, "from the claude recipe") {
		t.Errorf("apply did not say it builds the recipe image:\n%s", applyOut)
	}

	out, _ := must(exitOK, "status", path)
	if want := "solo  running; attach: bottleplan attach " + path + " solo"; !strings.Contains(out, want) {
		t.Errorf("status lacks %q:\n%s", want, out)
	}

	// exec: output and exit code are the command's.
	out, _ = must(5, "exec", path, "solo", "--", "sh", "-c", "echo out-of-exec && exit 5")
	if out != "out-of-exec\n" {
		t.Errorf("exec printed %q", out)
	}
	// Without --, flags after the instance are the command's too.
	out, _ = must(exitOK, "exec", path, "solo", "sh", "-c", "echo no-dashes")
	if out != "no-dashes\n" {
		t.Errorf("exec without -- printed %q", out)
	}

	// attach through a pty.
	master, slave := openPTY(t)
	var stderr syncBuffer
	var seen syncBuffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			seen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	done := make(chan int, 1)
	go func() {
		e := &env{ctx: context.Background(), stdin: slave, stdout: slave, stderr: &stderr,
			getenv: func(k string) string { return c.env[k] }}
		done <- run(e, []string{"attach", path, "solo"})
	}()
	if !waitFor(2*time.Minute, func() bool { return strings.Contains(stderr.String(), "Attached to the agent of solo") }) {
		t.Fatalf("attach did not start; stderr:\n%s", stderr.String())
	}
	// The attach stream may open a moment after the message: type until
	// the echo shows.
	if !waitFor(2*time.Minute, func() bool {
		master.Write([]byte("hello-agent\r"))
		return waitFor(2*time.Second, func() bool { return strings.Contains(seen.String(), "echo: hello-agent") })
	}) {
		t.Fatalf("no echo from the agent through attach; the terminal shows:\n%q\nstderr:\n%s", seen.String(), stderr.String())
	}
	master.Write([]byte{0x10, 0x11}) // ctrl-p, ctrl-q
	select {
	case code := <-done:
		if code != exitOK || !strings.Contains(stderr.String(), "Detached; the agent of solo keeps running") {
			t.Errorf("detach: exit %d, stderr:\n%s", code, stderr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("the detach keys did not end attach; stderr:\n%s", stderr.String())
	}
	if st, err := eng.ContainerInspect(context.Background(), in.Agent.ContainerName); err != nil || !st.State.Running {
		t.Errorf("the agent is not running after detach (%v)", err)
	}

	// An agent whose process exits 3.
	in.Agent.Command = []string{"sh", "-c", "exit 3"}
	in.ConfigHash.Agent = "sha256:agent-exits-3"
	path = writePlan(t, dir, p)
	must(exitOK, "apply", path, "--auto-approve", "--bundle-binary="+dockertest.BundleBinary(t))
	if !waitFor(time.Minute, func() bool {
		st, err := eng.ContainerInspect(context.Background(), in.Agent.ContainerName)
		return err == nil && st.State.Status == "exited"
	}) {
		t.Fatal("the agent did not exit")
	}
	out, _ = must(exitOK, "status", path)
	if want := "solo  exited 3; output: bottleplan logs " + path + " --instance solo"; !strings.Contains(out, want) {
		t.Errorf("status lacks %q:\n%s", want, out)
	}
	_, errOut := must(exitError, "attach", path, "solo")
	if !strings.Contains(errOut, `the agent of instance "solo" exited with code 3`) {
		t.Errorf("attach to an exited agent: %s", errOut)
	}

	// destroy --rmi removes the recipe image and the bundle image with
	// the containers: no other container uses them (this process's bundle
	// image is its own, dockertest.runID).
	out, _ = must(exitOK, "destroy", path, "--auto-approve", "--rmi")
	for _, want := range []string{"image " + ref + ": removed", "image bottleplan-bundle:", "Images: 2 removed, 0 kept."} {
		if !strings.Contains(out, want) {
			t.Errorf("destroy --rmi lacks %q:\n%s", want, out)
		}
	}
	if _, err := eng.ImageInspect(context.Background(), ref); err == nil {
		t.Errorf("destroy --rmi left %s", ref)
	}
}
