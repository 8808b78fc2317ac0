package smolvm

import (
	"context"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

type hybridRig struct {
	t *testing.T
	// owned lists the project's Docker resources (dockertest.Owned).
	owned   func() []string
	w       *world
	project string
	p       *plan.Plan
	docker  *docker.Backend
}

func newHybridRig(t *testing.T) *hybridRig {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	img := dockertest.AgentImage(t, eng)
	return &hybridRig{t: t, owned: func() []string { return dockertest.Owned(t, eng, project) }, w: newWorld(t), project: project, p: dockertest.SmolPlan(project, img),
		docker: docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t)})}
}

// hybrid opens a fresh Hybrid, so failure modes set on the world apply.
func (r *hybridRig) hybrid() *Hybrid {
	return &Hybrid{Docker: r.docker, Images: r.docker, Machines: r.w.open(), Project: r.project}
}

// converge observes, diffs, prepares and applies; it returns the ops.
func (r *hybridRig) converge() ([]string, error) {
	r.t.Helper()
	ctx := context.Background()
	h := r.hybrid()
	obs, err := h.Observe(ctx, r.project)
	if err != nil {
		r.t.Fatal(err)
	}
	ch, err := executor.Diff(r.p, obs, executor.DiffOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	var ops []string
	for _, op := range ch.Ops() {
		ops = append(ops, op.String())
	}
	if ch.Empty() {
		return nil, nil
	}
	if err := h.Prepare(ctx, r.p, ch); err != nil {
		return ops, err
	}
	secrets, err := executor.ResolveSecrets(executor.SecretNeeds(r.p, ch),
		executor.HostSecrets{Lookup: func(name string) (string, bool) { return canaryHost, name == "HOST_ANTHROPIC_KEY" }},
		func(executor.SecretNeed) (string, error) { return "", nil })
	if err != nil {
		r.t.Fatal(err)
	}
	return ops, executor.Apply(ctx, h, r.p, ch, executor.ApplyOptions{Secrets: secrets})
}

// destroy removes everything the project owns and checks nothing is
// left, on Docker or smolvm.
func (r *hybridRig) destroy() {
	r.t.Helper()
	ctx := context.Background()
	h := r.hybrid()
	obs, err := h.Observe(ctx, r.project)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := executor.Apply(ctx, h, r.p, executor.DiffDestroy(obs, ""), executor.ApplyOptions{}); err != nil {
		r.t.Fatalf("destroy: %v", err)
	}
	if left := r.owned(); len(left) != 0 {
		r.t.Errorf("Docker resources left after destroy: %v", left)
	}
	if ms := r.w.machines(); len(ms) != 0 {
		r.t.Errorf("machines left after destroy: %v", ms)
	}
}

func TestHybridApplyConvergeDestroy(t *testing.T) {
	r := newHybridRig(t)
	ops, err := r.converge()
	if err != nil {
		t.Fatalf("apply %v: %v", ops, err)
	}
	want := []string{
		"+ a network-internal " + r.project + "-a-internal (create: not found)",
		"+ a bundle " + r.project + "-a-bundle (create: not found)",
		"+ a agent " + r.project + "-a (create: not found)",
	}
	if strings.Join(ops, "\n") != strings.Join(want, "\n") {
		t.Errorf("ops:\n%s\nwant:\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}

	// The machine: verified, its CA file starting with the bundle's CA,
	// its secret delivered, and the bridge plain so the host routes to
	// the bundle.
	m := r.w.machines()[r.project+"-a"]
	if m == nil || m["state"] != "running" {
		t.Fatalf("machine not running: %v", m)
	}
	ca := m["files"].(map[string]any)[plan.GuestCAFile].(map[string]any)["content"].(string)
	h := r.hybrid()
	obs, err := h.Observe(context.Background(), r.project)
	if err != nil {
		t.Fatal(err)
	}
	var bundle executor.Resource
	for _, res := range obs.Resources {
		if res.Role == executor.RoleBundle {
			bundle = res
		}
	}
	got, err := h.ReadCA(context.Background(), bundle)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ca, string(got.CertPEM)) {
		t.Errorf("guest CA file does not start with the bundle's CA certificate")
	}
	if env := m["agent"].(map[string]any)["env"].(map[string]any); env["ANTHROPIC_API_KEY"] != canaryHost {
		t.Errorf("agent secret not delivered: %v", env["ANTHROPIC_API_KEY"])
	}
	assertNoCanary(t, "argv", r.w.rawLog())
	for _, res := range obs.Resources {
		if res.Role == executor.RoleNetworkInternal && res.Internal {
			t.Errorf("smolmachines bridge %s is internal; the host must route to the bundle", res.Name)
		}
	}

	if ops, err := r.converge(); err != nil || len(ops) != 0 {
		t.Errorf("re-apply = %v, %v; want no ops", ops, err)
	}
	r.destroy()
}

// TestHybridFailureLeavesNothing: a machine whose networking comes up off
// fails the apply; destroy then leaves nothing, and a rerun converges.
func TestHybridFailureLeavesNothing(t *testing.T) {
	r := newHybridRig(t)
	r.w.modes = map[string]string{"FAKESMOLVM_NET_OFF": "1"}
	if _, err := r.converge(); err == nil || !strings.Contains(err.Error(), "networking off") {
		t.Fatalf("apply with networking off: %v", err)
	}
	if _, ok := r.w.machines()[r.project+"-a"]; ok {
		t.Error("the machine with networking off was not rolled back")
	}
	r.w.modes = nil
	r.destroy()
	if ops, err := r.converge(); err != nil || len(ops) != 3 {
		t.Fatalf("rerun = %v, %v; want three creates", ops, err)
	}
	if ops, err := r.converge(); err != nil || len(ops) != 0 {
		t.Errorf("apply after rerun = %v, %v; want no ops", ops, err)
	}
	r.destroy()
}

// TestHybridExportsAndPacksOnce: Prepare exports the agent image with
// `docker save` and packs the archive once per image.
func TestHybridExportsAndPacksOnce(t *testing.T) {
	r := newHybridRig(t)
	if _, err := r.converge(); err != nil {
		t.Fatal(err)
	}
	calls := r.w.calls()
	if n := strings.Count(calls, " --image $CACHE/images/"); n != 1 || strings.Count(calls, "smolvm pack create --from-vm bottleplan-pack-") != 1 {
		t.Errorf("packed %d times from the exported archive, want once, through a packer machine:\n%s", n, calls)
	}
	r.destroy()
	if _, err := r.converge(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(r.w.calls(), "pack create"); n != 0 {
		t.Errorf("packed again although the digest is cached")
	}
	assertNoCanary(t, "runner log", r.w.out.String())
	r.destroy()
}

// TestHybridDryRunReplace: replacing a running machine stops and deletes
// it before the create sequence; a docker instance's agent and every
// non-agent op render nothing.
func TestHybridDryRunReplace(t *testing.T) {
	w := newWorld(t)
	p := dockertest.SmolPlan("acme", "img")
	p.Instances = append(p.Instances, dockertest.Instance("acme", "d", "img", "10.9.9.0"))
	h := &Hybrid{Machines: w.open(), Project: "acme"}
	old := &executor.Resource{Role: executor.RoleAgent, Instance: "a", Name: "acme-a", ID: machineIDPrefix + "acme-a", State: "running"}
	ch := &executor.Changes{Project: "acme", Instances: []executor.InstanceChanges{
		{Slug: "a", Ops: []executor.Op{
			{Kind: executor.Replace, Instance: "a", Role: executor.RoleBundle, Name: "acme-a-bundle"},
			{Kind: executor.Replace, Instance: "a", Role: executor.RoleAgent, Name: "acme-a", Old: old},
		}},
		{Slug: "d", Ops: []executor.Op{{Kind: executor.Create, Instance: "d", Role: executor.RoleAgent, Name: "acme-d-agent"}}},
	}}
	lines, err := h.DryRun(p, ch)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 18 || lines[0] != "smolvm machine stop --name acme-a" || lines[1] != "smolvm machine delete --name acme-a -f" ||
		lines[2] != "smolvm machine create --name 'bottleplan-pack-<digest>' --image '<docker save of the agent image>' --label io.bottleplan.role=pack -- sleep infinity" ||
		!strings.HasPrefix(lines[7], "smolvm machine create --name acme-a ") || !strings.Contains(lines[16], "-- /sleeper") {
		t.Errorf("dry run lines:\n%s", strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if strings.Contains(l, "acme-d") {
			t.Errorf("dry run renders the docker instance: %s", l)
		}
	}
	if err := h.Start(context.Background(), *old, nil); err == nil || !strings.Contains(err.Error(), "cannot be restarted") {
		t.Errorf("Start of a machine: %v", err)
	}
}
