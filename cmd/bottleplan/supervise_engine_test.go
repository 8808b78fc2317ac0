package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/bundle"
	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

// superviseHost is the route a supervise rule guards in the Engine
// test; the test upstream answers for it.
const superviseHost = "held.bottleplan.test"

// superviseTimeout is the hold timeout of the Engine test: the minimum.
const superviseTimeout = "10s"

// heldReport is what the agent-side probe (the flood image, -n 0) saw
// of its held request.
type heldReport struct {
	HeldStatus int    `json:"held_status"`
	HeldBody   string `json:"held_body"`
}

// superviseBottle applies one supervised instance "a" whose route to
// superviseHost injects a bearer token and holds every path but /ok
// for the operator, with a test upstream behind it. It applies through
// the Docker backend (the upstream's CA must be the bundle's only root,
// which the CLI's apply cannot be told) and returns the plan, its file
// and the token.
func superviseBottle(t *testing.T, hosts ...string) (*plan.Plan, string, string) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	certs := dockertest.NewUpstreamCerts(t, append([]string{superviseHost}, hosts...)...)
	roots := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, certs.CAPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t), RootsFile: roots})
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "a")
	in := &p.Instances[0]
	in.Bundle.Supervise = &plan.Supervise{Listen: fmt.Sprintf("%s:%d", in.Network.BundleIP, plan.SupervisePort), HoldTimeout: superviseTimeout}
	in.Endpoints.SuperviseURL = fmt.Sprintf("http://%s:%d%s", in.Network.BundleIP, plan.SupervisePort, bundle.MCPPath)
	in.Bundle.Proxy.Routes = []plan.Route{{Host: superviseHost, Ports: []int{443}, DLP: bundle.DLPSupervise, Intercept: true,
		Auth:    &plan.RouteAuth{Scheme: "Bearer", TokenRef: "UPSTREAM_TOKEN"},
		Matches: []plan.Match{{Paths: []plan.PathMatch{{Type: "prefix", Value: "/ok"}}}}}}
	in.Bundle.SecretsFromHost = []string{"UPSTREAM_TOKEN"}
	dockertest.PublicEgress(t, eng, p)
	dockertest.StartUpstream(t, eng, p, certs, append([]string{superviseHost}, hosts...)...)
	token := "tok-" + project + "-supervise"
	ctx := context.Background()
	obs, err := executor.ObservePlan(ctx, b, p)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := executor.Diff(p, obs, executor.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := executor.Apply(ctx, b, p, ch, executor.ApplyOptions{Secrets: map[string]executor.InstanceSecrets{
		"a": {Bundle: []string{"UPSTREAM_TOKEN=" + token}},
	}}); err != nil {
		t.Fatal(err)
	}
	return p, writePlan(t, t.TempDir(), p), token
}

// pendingItems runs `bottleplan supervise plan --json` until it lists n
// items, and returns them.
func pendingItems(t *testing.T, c *cli, path string, n int) []listedItem {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		code, out, errOut := c.run("supervise", path, "--json")
		if code != exitOK {
			t.Fatalf("supervise --json: exit %d: %s", code, errOut)
		}
		var items []listedItem
		if err := json.Unmarshal([]byte(out), &items); err != nil {
			t.Fatalf("supervise --json is not one JSON document: %v: %s", err, out)
		}
		if len(items) >= n {
			return items
		}
		if time.Now().After(deadline) {
			t.Fatalf("supervise --json listed %d items in a minute, want %d: %s", len(items), n, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestSuperviseOnEngine is issue 12's acceptance through the CLI: a
// probe at the agent's address sends a request a supervise rule holds;
// `bottleplan supervise --json` lists it with its instance and kind;
// `approve ID` releases it to the test upstream, which sees the injected
// token; `deny ID --reason` refuses it with the reason; with neither,
// the hold timeout does. On the way: the table lists it, an unknown ID,
// `answer` to a held request and an --instance the plan lacks are exit
// 1, and status finds no runtime grant.
func TestSuperviseOnEngine(t *testing.T) {
	p, path, token := superviseBottle(t)
	eng := dockertest.Engine(t)
	image := dockertest.FloodImage(t, eng)
	in := &p.Instances[0]
	c := &cli{t: t, env: map[string]string{"XDG_STATE_HOME": t.TempDir(), "NO_COLOR": "1"}}
	must := c.must
	if out, _ := must(exitOK, "supervise", path); out != "nothing pending\n" {
		t.Errorf("supervise with nothing held: %q", out)
	}
	_, errOut := must(exitError, "supervise", path, "approve", "nosuchid")
	if !strings.Contains(errOut, `no pending item "nosuchid" in a (it was decided, answered, timed out, or its client hung up`) {
		t.Errorf("approve of an unknown ID: %s", errOut)
	}

	// --watch runs the whole time, as a process of its own (the test
	// binary as bottleplan, as testscript sets it up), stdout a pipe.
	watch := startCLI(t, c, "supervise", path, "--watch")

	sum := sha256.Sum256([]byte("Bearer " + token))
	tests := []struct {
		name     string
		decide   []string // after the ID; nil lets it time out
		out      string   // what the decision prints, %s the ID
		wantCode int
		wantBody string
	}{
		{"approve", []string{"approve"}, "approved held request %s on a\n", 200, "upstream ok auth-sha256=" + hex.EncodeToString(sum[:]) + "\n"},
		{"deny", []string{"deny", "--reason", "not now"}, "denied held request %s on a\n", 403, "blocked: denied by operator: not now\n"},
		{"timeout", nil, "", 403, "blocked: not approved within " + superviseTimeout + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &cli{t: t, env: c.env} // failures stop this subtest
			must := c.must
			done := make(chan heldReport, 1)
			go func() {
				var rep heldReport
				args := []string{"-proxy", in.Endpoints.ProxyURL, "-held", "https://" + superviseHost + "/held/" + tc.name,
					"-insecure", "-held-wait", "2m", "-n", "0", "-c", "1"}
				if err := dockertest.RunAgentSide(eng, image, p, "cli-"+tc.name, args, 5*time.Minute, &rep); err != nil {
					t.Error(err)
				}
				done <- rep
			}()
			items := pendingItems(t, c, path, 1)
			it := items[0]
			if len(items) != 1 || it.Instance != "a" || it.Kind != executor.ItemHeld || it.Host != superviseHost || it.Path != "/held/"+tc.name || it.Method != "GET" || it.ID == "" {
				t.Fatalf("supervise --json: %+v", items)
			}
			// An operator decides what the watcher showed: wait until
			// --watch (polling each second, a process of its own that
			// may still be starting) has printed this item.
			if !waitFor(time.Minute, func() bool { return strings.Contains(watch.stdout.String(), it.ID) }) {
				t.Fatalf("supervise --watch did not print %s within a minute:\n%s", it.ID, watch.stdout.String())
			}
			table, _ := must(exitOK, "supervise", path, "--instance", "a")
			for _, w := range []string{"INSTANCE  ID", "KIND", "a         " + it.ID, "held request  GET " + superviseHost + "/held/" + tc.name} {
				if !strings.Contains(table, w) {
					t.Errorf("supervise table lacks %q:\n%s", w, table)
				}
			}
			if tc.name == "deny" {
				_, errOut := must(exitError, "supervise", path, "answer", it.ID, "yes")
				if !strings.Contains(errOut, it.ID+" is a held request, not a question: approve or deny it") {
					t.Errorf("answer to a held request: %s", errOut)
				}
				_, errOut = must(exitError, "supervise", path, "--instance", "nosuch", "deny", it.ID)
				if !strings.Contains(errOut, `no instance "nosuch" in the plan (it has: a)`) {
					t.Errorf("--instance nosuch: %s", errOut)
				}
			}
			if tc.decide != nil {
				out, _ := must(exitOK, append([]string{"supervise", path, tc.decide[0], it.ID}, tc.decide[1:]...)...)
				if want := fmt.Sprintf(tc.out, it.ID); out != want {
					t.Errorf("supervise %s: %q, want %q", tc.decide[0], out, want)
				}
				// Decided: it is gone, and deciding it again says so.
				if _, errOut := must(exitError, "supervise", path, "approve", it.ID); !strings.Contains(errOut, "no pending item") {
					t.Errorf("a second decision: %s", errOut)
				}
			}
			var rep heldReport
			select {
			case rep = <-done:
			case <-time.After(5 * time.Minute):
				t.Fatal("the probe never finished")
			}
			if rep.HeldStatus != tc.wantCode || rep.HeldBody != tc.wantBody {
				t.Fatalf("the agent got %d %q, want %d %q", rep.HeldStatus, rep.HeldBody, tc.wantCode, tc.wantBody)
			}
		})
	}
	out, _ := must(exitOK, "status", path, "--detailed-exitcode")
	if !strings.Contains(out, "a  in sync") {
		t.Errorf("status without grants:\n%s", out)
	}

	// SIGTERM ends --watch with exit 0; it printed each of the three
	// held requests once, as plain lines (stdout is no terminal).
	out = watch.stop(t, syscall.SIGTERM)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 || strings.ContainsRune(out, '\x1b') {
		t.Fatalf("supervise --watch printed, want 3 plain lines:\n%s", out)
	}
	for i, name := range []string{"approve", "deny", "timeout"} {
		if f := strings.Fields(lines[i]); len(f) < 7 || f[1] != "a" || f[3]+" "+f[4] != "held request" || f[6] != superviseHost+"/held/"+name {
			t.Errorf("--watch line %d: %q", i, lines[i])
		}
	}
	// Ctrl-C (SIGINT) ends logs -f with exit 0.
	logs := startCLI(t, c, "logs", path, "-f", "--decisions")
	time.Sleep(2 * time.Second)
	if out := logs.stop(t, os.Interrupt); !strings.Contains(out, " hold ") {
		t.Errorf("logs -f --decisions printed no hold before Ctrl-C:\n%s", out)
	}
}

// cliProcess is bottleplan running as a process of its own.
type cliProcess struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan error
}

// startCLI runs bottleplan args as a process (the test binary, which
// testscript's TestMain put on PATH as bottleplan) with c's env on top
// of this process's, stdin empty and stdout and stderr pipes.
func startCLI(t *testing.T, c *cli, args ...string) *cliProcess {
	t.Helper()
	cmd := exec.Command("bottleplan", args...)
	cmd.Env = os.Environ()
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &cliProcess{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return p
}

// stop sends sig, wants exit 0 within 30s, and returns the stdout.
func (p *cliProcess) stop(t *testing.T, sig os.Signal) string {
	t.Helper()
	select {
	case err := <-p.done:
		t.Fatalf("bottleplan %v ended before %v: %v\n%s", p.cmd.Args[1:], sig, err, p.stderr.String())
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("bottleplan %v after %v: %v, want exit 0\nstderr:\n%s", p.cmd.Args[1:], sig, err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("bottleplan %v still running 30s after %v", p.cmd.Args[1:], sig)
	}
	return p.stdout.String()
}

// TestSuperviseAccessAndQuestionsOnEngine: the agent side, the go-sdk
// MCP client in a container at the agent's address, asks the operator a
// question and then for access to a host no route names; from the CLI,
// `approve` does not fit the question and `answer` does, and the tool
// returns the answer; `answer` does not fit the access request and
// `approve` does: the host is reachable through the proxy (TLS verified
// against the instance CA), `status` reports the runtime grant as drift
// (exit 2), `apply` revokes it (one op, nothing replaced) and a second
// apply finds nothing to do.
func TestSuperviseAccessAndQuestionsOnEngine(t *testing.T) {
	const grantHost = "grant.bottleplan.test"
	p, path, token := superviseBottle(t, grantHost)
	eng := dockertest.Engine(t)
	image := dockertest.MCPAgentImage(t, eng)
	in := &p.Instances[0]
	ctx := context.Background()
	ca, err := docker.New(eng, docker.Options{}).ReadCA(ctx, executor.Resource{Role: executor.RoleBundle, ID: in.Bundle.ContainerName, Name: in.Bundle.ContainerName})
	if err != nil {
		t.Fatal(err)
	}
	mcpURL := fmt.Sprintf("http://%s:%d%s", in.Network.BundleIP, plan.SupervisePort, bundle.MCPPath)
	c := &cli{t: t, env: map[string]string{"XDG_STATE_HOME": t.TempDir(), "NO_COLOR": "1"}}
	must := c.must
	type mcpReport struct {
		BeforeStatus int    `json:"before_status"`
		BeforeBody   string `json:"before_body"`
		ToolError    bool   `json:"tool_error"`
		Outcome      string `json:"outcome"`
		Text         string `json:"text"`
		ToolBody     string `json:"tool_body"`
		AfterStatus  int    `json:"after_status"`
		AfterBody    string `json:"after_body"`
		AfterError   string `json:"after_error"`
	}
	agent := func(name string, args ...string) chan mcpReport {
		done := make(chan mcpReport, 1)
		go func() {
			var rep mcpReport
			if err := dockertest.RunAgentSide(eng, image, p, name, append([]string{"-mcp", mcpURL}, args...), 5*time.Minute, &rep); err != nil {
				t.Error(err)
			}
			done <- rep
		}()
		return done
	}
	wait := func(done chan mcpReport) mcpReport {
		t.Helper()
		select {
		case rep := <-done:
			return rep
		case <-time.After(5 * time.Minute):
			t.Fatal("the agent side never finished")
		}
		return mcpReport{}
	}

	// A question: answered, never approved.
	done := agent("ask", "-ask", "may I push to main?")
	items := pendingItems(t, c, path, 1)
	q := items[0]
	if q.Kind != executor.ItemQuestion || q.Question != "may I push to main?" || q.Instance != "a" {
		t.Fatalf("supervise --json: %+v", items)
	}
	if _, errOut := must(exitError, "supervise", path, "approve", q.ID); !strings.Contains(errOut, q.ID+" is a question: answer it (bottleplan supervise "+path+" answer "+q.ID+" TEXT)") {
		t.Errorf("approve of a question: %s", errOut)
	}
	if out, _ := must(exitOK, "supervise", path, "answer", q.ID, "no, open a PR"); out != "answered question "+q.ID+" on a\n" {
		t.Errorf("answer: %q", out)
	}
	if rep := wait(done); rep.ToolError || rep.Outcome != "answered" || rep.Text != "no, open a PR" {
		t.Errorf("ask_operator returned %+v", rep)
	}

	// An access request: approved, it is a runtime grant.
	done = agent("access", "-proxy", in.Endpoints.ProxyURL, "-access", grantHost, "-reason", "fetch a dependency",
		"-ca", base64.StdEncoding.EncodeToString(ca.CertPEM))
	items = pendingItems(t, c, path, 1)
	a := items[0]
	if a.Kind != executor.ItemAccess || !strings.HasPrefix(a.Host, grantHost) || a.Reason != "fetch a dependency" {
		t.Fatalf("supervise --json: %+v", items)
	}
	table, _ := must(exitOK, "supervise", path)
	if !strings.Contains(table, "access request  access to "+grantHost) {
		t.Errorf("supervise table:\n%s", table)
	}
	if _, errOut := must(exitError, "supervise", path, "answer", a.ID, "yes"); !strings.Contains(errOut, a.ID+" is an access request, not a question: approve or deny it") {
		t.Errorf("answer to an access request: %s", errOut)
	}
	if out, _ := must(exitOK, "supervise", path, "approve", a.ID); out != "approved access request "+a.ID+" on a\n" {
		t.Errorf("approve: %q", out)
	}
	rep := wait(done)
	sum := sha256.Sum256([]byte("Bearer " + token))
	// Before: the proxy refuses the CONNECT (403), which Go's client
	// reports as an error "Forbidden".
	if rep.BeforeStatus == 200 || !strings.Contains(rep.BeforeBody, "Forbidden") || rep.ToolError || rep.Outcome != "approved" || rep.AfterStatus != 200 ||
		!strings.HasPrefix(rep.AfterBody, "upstream ok ") || strings.Contains(rep.AfterBody, hex.EncodeToString(sum[:])) {
		t.Fatalf("request_access: %+v (want 403 before, approved, 200 from the upstream after, no token injected)", rep)
	}

	out, _ := must(exitChanges, "status", path, "--detailed-exitcode")
	if !strings.Contains(out, "a  drifted: runtime grant: "+grantHost+"\n") {
		t.Errorf("status with a runtime grant:\n%s", out)
	}
	out, _ = must(exitOK, "apply", path, "--auto-approve")
	for _, w := range []string{
		"~  a  bundle  " + in.Bundle.ContainerName + "  revoke runtime grant " + grantHost + ": not in the plan's routes",
		"Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 1 runtime grant to revoke.",
		"a: bundle " + in.Bundle.ContainerName + " runtime grants revoked (1)",
		"Apply complete: 0 created, 0 updated, 0 replaced, 0 deleted, 1 runtime grant revoked.",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("apply lacks %q:\n%s", w, out)
		}
	}
	if out, _ := must(exitOK, "status", path, "--detailed-exitcode"); !strings.Contains(out, "a  in sync") {
		t.Errorf("status after apply:\n%s", out)
	}
	if out, _ := must(exitOK, "apply", path, "--auto-approve"); !strings.Contains(out, "No changes") {
		t.Errorf("a second apply:\n%s", out)
	}
}
