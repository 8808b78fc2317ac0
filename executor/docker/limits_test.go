package docker_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

// capNetRaw is CAP_NET_RAW's bit in /proc/<pid>/status CapEff.
const capNetRaw = 13

// TestAttackAgentRawSocket is the attack "the agent opens a raw socket
// and writes frames onto the bridge": an agent given NET_RAW (the test
// hook adds it, as Docker's default set did before) makes verify's
// raw-socket probes fail; the same instance applied by a backend without
// the hook is replaced for its limits alone, and then the probes pass,
// the agent's CapEff lacks NET_RAW and its HostConfig carries every
// limit, as does the bundle's.
func TestAttackAgentRawSocket(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	opts := docker.Options{BundleBinary: dockertest.BundleBinary(t)}
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "a")
	in := &p.Instances[0]
	in.Agent.Resources = &plan.Resources{Pids: 300}

	withRaw := docker.New(eng, opts)
	docker.SetAgentCapAdd(withRaw, "NET_RAW")
	if _, err := converge(t, withRaw, p, false, executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, r := range rawSocketResults(t, withRaw, p) {
		if r.Pass {
			t.Errorf("agent with NET_RAW: %s passed (%s); want it to fail", name, r.Got)
		}
	}
	if !hasCap(t, eng, in.Agent.ContainerName, capNetRaw) {
		t.Errorf("the hook did not give the agent NET_RAW: the failing probes above prove nothing")
	}

	b := docker.New(eng, opts)
	want := []string{"-/+ a agent " + in.Agent.ContainerName + " (replace: container limits changed"}
	if got := pending(t, b, p); len(got) != 1 || !strings.HasPrefix(got[0], want[0]) {
		t.Fatalf("ops after the limits changed: %v; want only %s...)", got, want[0])
	}
	if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := pending(t, b, p); len(got) != 0 {
		t.Fatalf("second apply is not a no-op: %v", got)
	}
	for name, r := range rawSocketResults(t, b, p) {
		if !r.Pass {
			t.Errorf("%s: got %s, want %s", name, r.Got, r.Expected)
		}
	}
	if hasCap(t, eng, in.Agent.ContainerName, capNetRaw) {
		t.Errorf("the agent's CapEff has NET_RAW")
	}
}

// rawSocketResults runs verify on p's only instance and returns its
// raw-socket results by name; both must be there.
func rawSocketResults(t *testing.T, b *docker.Backend, p *plan.Plan) map[string]executor.VerifyResult {
	t.Helper()
	rs, err := b.Verify(context.Background(), p, p.Instances[0].Slug)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]executor.VerifyResult{}
	for _, r := range rs {
		if r.Name == executor.CheckRawSocketInet || r.Name == executor.CheckRawSocketPacket {
			out[r.Name] = r
		}
	}
	if len(out) != 2 {
		t.Fatalf("verify ran %d raw-socket checks, want 2: %+v", len(out), rs)
	}
	return out
}

// hasCap reports whether the main process of container name has
// capability bit in its effective set, read as the kernel shows it
// (/proc/<pid>/status on the host: the test image has no shell to read
// its own).
func hasCap(t *testing.T, eng docker.Engine, name string, bit uint) bool {
	t.Helper()
	ci, err := eng.ContainerInspect(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if ci.State == nil || ci.State.Pid == 0 {
		t.Fatalf("%s is not running", name)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", ci.State.Pid))
	if err != nil {
		t.Skipf("the Engine's processes are not visible here (%v); CapEff not checked", err)
	}
	for l := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("CapEff %q: %v", v, err)
			}
			return eff&(1<<bit) != 0
		}
	}
	t.Fatalf("no CapEff in /proc/%d/status", ci.State.Pid)
	return false
}

// TestAttackAgentNoPidsLimit is the attack "the agent forks without end
// and fills the host's disk with its logs": the agent's and the bundle's
// HostConfig must carry a pids limit, log rotation and their dropped
// capabilities, and the bundle a memory limit. No fork bomb is run: the
// Engine's HostConfig is what the kernel enforces.
func TestAttackAgentNoPidsLimit(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t)})
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "a")
	in := &p.Instances[0]
	in.Agent.Resources = &plan.Resources{Pids: 300}
	ctx := context.Background()
	if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		name     string
		pids     int64
		memory   int64
		capDrop  []string
		hasNoNew bool
	}{
		"agent":  {in.Agent.ContainerName, 300, 0, []string{"NET_RAW", "MKNOD"}, true},
		"bundle": {in.Bundle.ContainerName, 1024, 640 << 20, []string{"ALL"}, true},
	}
	for role, tc := range tests {
		t.Run(role, func(t *testing.T) {
			ci, err := eng.ContainerInspect(ctx, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			h := ci.HostConfig
			if h.PidsLimit == nil || *h.PidsLimit != tc.pids {
				t.Errorf("PidsLimit %v, want %d", h.PidsLimit, tc.pids)
			}
			if h.Memory != tc.memory {
				t.Errorf("Memory %d, want %d", h.Memory, tc.memory)
			}
			if h.LogConfig.Type != "json-file" || h.LogConfig.Config["max-size"] != "10m" || h.LogConfig.Config["max-file"] != "3" {
				t.Errorf("LogConfig %+v, want json-file with max-size 10m and max-file 3", h.LogConfig)
			}
			for _, c := range tc.capDrop {
				// The Engine spells capabilities "CAP_NET_RAW" on inspect.
				if !slices.Contains(h.CapDrop, c) && !slices.Contains(h.CapDrop, "CAP_"+c) {
					t.Errorf("CapDrop %v lacks %s", h.CapDrop, c)
				}
			}
			if len(h.CapAdd) != 0 {
				t.Errorf("CapAdd %v, want none", h.CapAdd)
			}
			if !slices.Contains(h.SecurityOpt, "no-new-privileges") {
				t.Errorf("SecurityOpt %v lacks no-new-privileges", h.SecurityOpt)
			}
		})
	}
}
