package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/bottleplan/bottleplan/bundle"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

// TestDecisionLogOnEngine applies a plan through the CLI and makes its
// bundle decide: verify's probes, from the agent's side of the internal
// network, CONNECT to a host and to a port no route allows (denied) and
// to the intercepted route (allowed; an intercepted CONNECT is answered
// before anything is dialled). Then `logs --decisions --json` prints
// exactly the JSON lines of the bundle's stdout as the Engine kept them,
// each parses, and each denial verify saw is there with the reason the
// probe was answered with; the table shows them; `logs -f` ends with
// exit 0 when its context is cancelled; after destroy, logs says to
// apply.
func TestDecisionLogOnEngine(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "solo")
	in := &p.Instances[0]
	in.Bundle.Proxy.Routes = []plan.Route{{Host: "api.bottleplan.test", Ports: []int{443}, DLP: "block", Intercept: true}}
	path := writePlan(t, t.TempDir(), p)
	c := &cli{t: t, env: map[string]string{"XDG_STATE_HOME": t.TempDir(), "NO_COLOR": "1"}}
	must := c.must
	must(exitOK, "apply", path, "--auto-approve", "--bundle-binary="+dockertest.BundleBinary(t))

	// The agent has written nothing (it only sleeps); its logs say so
	// with exit 0.
	if out, _ := must(exitOK, "logs", path); out != "" {
		t.Errorf("logs of a silent agent printed %q", out)
	}

	verifyOut, _ := must(exitOK, "verify", path, "--json")
	var rep verifyReport
	if err := json.Unmarshal([]byte(verifyOut), &rep); err != nil {
		t.Fatal(err)
	}

	out, _ := must(exitOK, "logs", path, "--decisions", "--json")
	var got []bundle.Decision
	var gotLines []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var d bundle.Decision
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("logs --decisions --json line does not parse: %v: %q", err, l)
		}
		got = append(got, d)
		gotLines = append(gotLines, l)
	}

	// The same lines as the bundle wrote them, as the Engine keeps them.
	rc, err := eng.ContainerLogs(context.Background(), in.Bundle.ContainerName, container.LogsOptions{ShowStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := stdcopy.StdCopy(&raw, &bytes.Buffer{}, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	var want []string
	for _, l := range strings.Split(strings.TrimSuffix(raw.String(), "\n"), "\n") {
		if json.Valid([]byte(l)) {
			want = append(want, l)
		}
	}
	slices.Sort(gotLines)
	slices.Sort(want)
	if !slices.Equal(gotLines, want) {
		t.Errorf("logs --decisions --json:\n%s\nthe bundle's stdout JSON lines:\n%s", strings.Join(gotLines, "\n"), strings.Join(want, "\n"))
	}

	// Every denial verify was answered with is in the log, as decided.
	denials := 0
	for _, r := range rep.Instances[0].Results {
		if !strings.HasPrefix(r.Name, "proxy-denies-") {
			continue
		}
		denials++
		host, portStr, _ := net.SplitHostPort(strings.TrimPrefix(r.Target, "CONNECT "))
		port, _ := strconv.Atoi(portStr)
		reason := strings.TrimPrefix(r.Got, "403 blocked: ")
		if !slices.ContainsFunc(got, func(d bundle.Decision) bool {
			return d.Verdict == bundle.VerdictDeny && d.Method == "CONNECT" && d.Host == host && d.Port == port && d.Reason == reason && d.Instance == "solo"
		}) {
			t.Errorf("verify's %s (%s, got %s) is not in the decision log:\n%s", r.Name, r.Target, r.Got, out)
		}
	}
	if denials != 2 {
		t.Errorf("verify made %d denials, want 2 (host and port): %+v", denials, rep.Instances[0].Results)
	}

	table, _ := must(exitOK, "logs", path, "--decisions", "--since", "1h")
	for _, w := range []string{"TIME", "INSTANCE  VERDICT", "solo", "deny", "CONNECT", "verify.bottleplan.invalid:443"} {
		if !strings.Contains(table, w) {
			t.Errorf("logs --decisions lacks %q:\n%s", w, table)
		}
	}
	t.Logf("logs --decisions:\n%s", table)
	if out, _ := must(exitOK, "logs", path, "--decisions", "--since", time.Now().Add(time.Hour).Format(time.RFC3339)); out != "" {
		t.Errorf("logs --decisions --since an hour ahead printed:\n%s", out)
	}

	// -f prints the log so far, then waits; cancelling its context (what
	// Ctrl-C does in Main) ends it with exit 0.
	for _, args := range [][]string{{"--decisions", "--json"}, {}} {
		ctx, cancel := context.WithCancel(context.Background())
		stdout := &syncBuffer{}
		e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: stdout, stderr: &syncBuffer{},
			getenv: func(k string) string { return c.env[k] }}
		done := make(chan int, 1)
		go func() { done <- run(e, append([]string{"logs", path, "-f"}, args...)) }()
		if len(args) > 0 {
			for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stdout.String(), "\n") && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
			}
			if !strings.Contains(stdout.String(), `"verdict":"deny"`) {
				t.Errorf("logs -f %v printed no denial before cancel: %q", args, stdout.String())
			}
		} else {
			time.Sleep(time.Second)
		}
		select {
		case code := <-done:
			t.Fatalf("logs -f %v ended by itself with exit %d while the bottle runs", args, code)
		default:
		}
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("logs -f %v: exit %d after cancel, want 0", args, code)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("logs -f %v still running 30s after its context was cancelled", args)
		}
	}

	must(exitOK, "destroy", path, "--auto-approve")
	_, errOut := must(exitError, "logs", path, "--decisions")
	if !strings.Contains(errOut, `instance "solo" is not applied: no bundle container "`+in.Bundle.ContainerName+`"; run bottleplan apply first`) {
		t.Errorf("logs after destroy: %s", errOut)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
