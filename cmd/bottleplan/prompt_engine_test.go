package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
)

// ptyOutput collects what a child writes to its terminal.
type ptyOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *ptyOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *ptyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// TestCtrlCAtApplyPrompts runs bottleplan apply as its own process on a
// pseudo-terminal, as an operator would, and types Ctrl-C at the y/N
// question and at the hidden secret prompt: each time apply ends at
// once (exit 1, before Enter), the terminal echoes again, and nothing
// of the project is created. The real Engine answers observe and the
// image check; no container or network is made.
func TestCtrlCAtApplyPrompts(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	bin, err := exec.LookPath("bottleplan") // this test binary, as testscript links it
	if err != nil {
		t.Fatalf("bottleplan not on PATH: %v", err)
	}
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "alpha")
	p.Instances[0].EnvPrompted = map[string]string{"JIRA_TOKEN": "Paste a Jira token"}
	planPath := writePlan(t, t.TempDir(), p)
	env := append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "NO_COLOR=1")
	bundle := "--bundle-binary=" + dockertest.BundleBinary(t)

	for _, tc := range []struct {
		name   string
		args   []string
		prompt string // what the child shows before it waits
		hidden bool
	}{
		{"confirm", []string{"apply", planPath, bundle}, "Apply these changes? [y/N]", false},
		{"secret", []string{"apply", planPath, bundle, "--auto-approve"}, "Paste a Jira token for JIRA_TOKEN (alpha): ", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			master, slave := openPTY(t)
			out := &ptyOutput{}
			go func() { _, _ = copyAll(out, master) }()
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = env
			cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
			// Its own session with the pty as controlling terminal, so the
			// terminal's Ctrl-C is a SIGINT to it.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			deadline := time.Now().Add(10 * time.Minute) // the bundle image may be built first
			for !strings.Contains(out.String(), tc.prompt) {
				select {
				case err := <-done:
					t.Fatalf("apply ended before the prompt (%v):\n%s", err, out.String())
				case <-time.After(50 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("no prompt %q:\n%s", tc.prompt, out.String())
				}
			}
			if tc.hidden {
				time.Sleep(100 * time.Millisecond)
				if echoOn(t, slave) {
					t.Error("echo is on while the secret is typed")
				}
			}
			master.Write([]byte{0x03}) // Ctrl-C
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != exitError {
					t.Errorf("apply after Ctrl-C: %v, want exit 1", err)
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("apply still waits after Ctrl-C:\n%s", out.String())
			}
			time.Sleep(100 * time.Millisecond)
			if !strings.Contains(out.String(), "interrupted") {
				t.Errorf("apply does not say it was interrupted:\n%s", out.String())
			}
			if !echoOn(t, slave) {
				t.Error("the terminal no longer echoes after Ctrl-C")
			}
			if left := dockertest.Owned(t, eng, project); len(left) != 0 {
				t.Errorf("Ctrl-C at the %s prompt left resources: %v", tc.name, left)
			}
		})
	}
}

// copyAll copies the pty master into w until it is closed.
func copyAll(w *ptyOutput, r *os.File) (int64, error) {
	buf := make([]byte, 4096)
	var n int64
	for {
		k, err := r.Read(buf)
		if k > 0 {
			w.Write(buf[:k])
			n += int64(k)
		}
		if err != nil {
			return n, err
		}
	}
}
