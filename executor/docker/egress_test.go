package docker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/google/go-cmp/cmp"

	"github.com/bottleplan/bottleplan/bundle/probewire"
	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

// TestEgressIsolation: the project's bundles share one egress network,
// made by apply from the daemon's default pools, and one bundle cannot
// reach another through it. The probe runs in bundle a's own container
// (its network namespace, its egress leg) and dials bundle b's egress
// address: with traffic between containers on, b's kernel answers
// (connection refused, nothing listens there); with it off, nothing
// answers. A dial of the egress network's gateway (the host, which does
// answer) shows the probe tells the two apart.
func TestEgressIsolation(t *testing.T) {
	eng, b, p := twoWithoutRoutes(t)
	project := p.Project
	if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	egressName := plan.EgressNetworkName(project)
	nw, err := eng.NetworkInspect(context.Background(), egressName, network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nw.IPAM.Config) == 0 || nw.IPAM.Config[0].Gateway == "" {
		t.Fatalf("egress network %s has no IPv4 gateway: %+v", egressName, nw.IPAM.Config)
	}
	gateway := nw.IPAM.Config[0].Gateway
	a, bb := inspect(t, eng, p.Instances[0].Bundle.ContainerName), inspect(t, eng, p.Instances[1].Bundle.ContainerName)
	peer := addrs(bb)[egressName]
	if addrs(a)[egressName] == "" || peer == "" {
		t.Fatalf("bundles not both on %s: a %v, b %v", egressName, addrs(a), addrs(bb))
	}

	res := probeFrom(t, eng, a.ID, []probewire.Target{
		{Name: "peer-proxy-port", Kind: probewire.TCP, Addr: peer + ":3128", TimeoutMS: 3000},
		{Name: "peer-closed-port", Kind: probewire.TCP, Addr: peer + ":1", TimeoutMS: 3000},
		{Name: "gateway-closed-port", Kind: probewire.TCP, Addr: gateway + ":1", TimeoutMS: 3000},
	})
	for _, r := range res[:2] {
		if r.Reached || !isTimeout(r.Error) {
			t.Errorf("bundle a -> bundle b's egress address (%s): reached %v, error %q; want no answer at all", r.Name, r.Reached, r.Error)
		}
	}
	if g := res[2]; g.Reached || !strings.Contains(g.Error, "refused") {
		t.Errorf("control: bundle a -> the egress gateway %s:1: reached %v, error %q; want refused (the probe must tell an answer from none)", gateway, g.Reached, g.Error)
	}

	// Destroying one instance keeps the network the other is on; the
	// last takes it along.
	obs, err := b.Observe(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	if err := executor.Apply(context.Background(), b, p, executor.DiffDestroy(obs, "a"), executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.NetworkInspect(context.Background(), egressName, network.InspectOptions{}); err != nil {
		t.Errorf("destroy of a removed the network b is on: %v", err)
	}
	destroy(t, b, p)
	if left := dockertest.Owned(t, eng, project); len(left) != 0 {
		t.Fatalf("destroy left %v", left)
	}
}

// twoWithoutRoutes returns the Engine, a backend and a plan of a new
// project with instances a and b, whose bundles have no routes (nothing
// to dial outside).
func twoWithoutRoutes(t *testing.T) (*client.Client, *docker.Backend, *plan.Plan) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t)})
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "a", "b")
	for i := range p.Instances {
		p.Instances[i].Bundle.Proxy.Routes = nil
	}
	return eng, b, p
}

// isTimeout reports whether a probe error says nothing answered.
func isTimeout(e string) bool {
	return strings.Contains(e, "timeout") || strings.Contains(e, "deadline") || strings.Contains(e, "no answer")
}

// probeFrom runs `bottleplan-bundle probe` on targets in the running
// container id (a bundle: its binary is there) and returns the results.
func probeFrom(t *testing.T, eng *client.Client, id string, targets []probewire.Target) []probewire.Result {
	t.Helper()
	js, err := json.Marshal(targets)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex, err := eng.ContainerExecCreate(ctx, id, container.ExecOptions{
		Cmd: []string{plan.BundleBinary, "probe", string(js)}, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	hj, err := eng.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer hj.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, hj.Reader); err != nil {
		t.Fatal(err)
	}
	var res []probewire.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || len(res) != len(targets) {
		t.Fatalf("probe output: %v: %s %s", err, stdout.String(), stderr.String())
	}
	return res
}

// TestEgressLegacyPlan: a plan made before the egress network was shared
// (an egress network per instance), applied as that release applied it,
// then applied by this one: only the bundles are replaced, onto the
// project's network; the internal networks and every agent container
// are kept; a second apply is a no-op. Then the plan made again by this
// release (the shared egress name, new network and bundle hashes)
// replaces only the bundles once more, and converges.
func TestEgressLegacyPlan(t *testing.T) {
	eng, b, p := twoWithoutRoutes(t)
	project := p.Project
	for i := range p.Instances {
		in := &p.Instances[i]
		in.Network.EgressName = project + "-" + in.Slug + "-egress" // as b7a7c9a planned it
	}
	applyAsBefore(t, eng, b, p)
	agents := func() map[string]string {
		ids := map[string]string{}
		for name, id := range containerIDs(t, eng, project) {
			if strings.HasSuffix(name, "-agent") {
				ids[name] = id
			}
		}
		return ids
	}
	internalIDs := func() map[string]string {
		ids := map[string]string{}
		for _, in := range p.Instances {
			nw, err := eng.NetworkInspect(context.Background(), in.Network.InternalName, network.InspectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ids[in.Network.InternalName] = nw.ID
		}
		return ids
	}
	agentsBefore, netsBefore := agents(), internalIDs()
	if len(agentsBefore) != 2 {
		t.Fatalf("old-style apply made agents %v", agentsBefore)
	}

	ch, err := converge(t, b, p, false, executor.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	egressName := plan.EgressNetworkName(project)
	var want []string
	want = append(want, "+ (project) network-egress "+egressName+" (create: not found)")
	for _, in := range p.Instances {
		want = append(want,
			fmt.Sprintf("- %s network-egress %s (delete: the project's bundles share egress network %q now)", in.Slug, in.Network.EgressName, egressName),
			fmt.Sprintf("-/+ %s bundle %s (replace: moves to the project's egress network %q)", in.Slug, in.Bundle.ContainerName, egressName))
	}
	if d := cmp.Diff(want, opStrings(ch)); d != "" {
		t.Errorf("apply of the old plan (-want +got):\n%s", d)
	}
	if ops := pending(t, b, p); len(ops) != 0 {
		t.Fatalf("the old plan did not converge: %v", ops)
	}
	checkKept(t, "the old plan", agentsBefore, agents(), netsBefore, internalIDs())
	for _, in := range p.Instances {
		if _, err := eng.NetworkInspect(context.Background(), in.Network.EgressName, network.InspectOptions{}); !client.IsErrNotFound(err) {
			t.Errorf("per-instance egress network %s still there (%v)", in.Network.EgressName, err)
		}
		checkInstance(t, eng, project, in)
	}

	// The same manifest planned by this release.
	for i := range p.Instances {
		in := &p.Instances[i]
		in.Network.EgressName = egressName
		in.ConfigHash.Network += "-shared"
		in.ConfigHash.Bundle += "-shared"
	}
	ch, err = converge(t, b, p, false, executor.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want = nil
	for _, in := range p.Instances {
		want = append(want, fmt.Sprintf("-/+ %s bundle %s (replace: config hash changed (bundle: egress_name))", in.Slug, in.Bundle.ContainerName))
	}
	if d := cmp.Diff(want, opStrings(ch)); d != "" {
		t.Errorf("apply of the plan made again (-want +got):\n%s", d)
	}
	if ops := pending(t, b, p); len(ops) != 0 {
		t.Fatalf("the new plan did not converge: %v", ops)
	}
	checkKept(t, "the plan made again", agentsBefore, agents(), netsBefore, internalIDs())

	destroy(t, b, p)
	if left := dockertest.Owned(t, eng, project); len(left) != 0 {
		t.Fatalf("destroy left %v", left)
	}
}

func checkKept(t *testing.T, what string, agentsBefore, agentsAfter, netsBefore, netsAfter map[string]string) {
	t.Helper()
	if d := cmp.Diff(agentsBefore, agentsAfter); d != "" {
		t.Errorf("%s: agent containers changed (-before +after):\n%s", what, d)
	}
	if d := cmp.Diff(netsBefore, netsAfter); d != "" {
		t.Errorf("%s: internal networks changed (-before +after):\n%s", what, d)
	}
}

// applyAsBefore leaves what b7a7c9a's apply of p left: per instance, the
// internal network, an egress network of its own (a plain bridge from
// the default pools, labelled with the instance, role network-egress,
// the network's config hash and fields), the bundle on both, the agent.
// The containers are made by this backend (their labels and files did
// not change); the bundle's egress leg is then moved onto the old
// network, where b7a7c9a had put it.
func applyAsBefore(t *testing.T, eng *client.Client, b *docker.Backend, p *plan.Plan) {
	t.Helper()
	ctx := context.Background()
	shared := plan.EgressNetworkName(p.Project)
	if _, err := eng.NetworkCreate(ctx, shared, network.CreateOptions{Driver: "bridge", Labels: executor.EgressLabels(p.Project, shared, p.PlanDigest)}); err != nil {
		t.Fatal(err)
	}
	if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, in := range p.Instances {
		l := executor.Labels(p.Project, in.Slug, executor.RoleNetworkEgress, in.ConfigHash.Network, p.PlanDigest)
		l[executor.LabelConfigFields] = executor.ConfigFields(&in, executor.RoleNetworkEgress)
		if _, err := eng.NetworkCreate(ctx, in.Network.EgressName, network.CreateOptions{Driver: "bridge", Labels: l}); err != nil {
			t.Fatal(err)
		}
		if err := eng.NetworkDisconnect(ctx, shared, in.Bundle.ContainerName, true); err != nil {
			t.Fatal(err)
		}
		if err := eng.NetworkConnect(ctx, in.Network.EgressName, in.Bundle.ContainerName, &network.EndpointSettings{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := eng.NetworkRemove(ctx, shared); err != nil {
		t.Fatal(err)
	}
	// What b7a7c9a's Diff would see as in sync: its networks, nothing
	// of the project's shared one.
	obs, err := b.Observe(ctx, p.Project)
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, r := range obs.Resources {
		roles = append(roles, r.Instance+"/"+string(r.Role))
	}
	slices.Sort(roles)
	wantRoles := []string{"a/agent", "a/bundle", "a/network-egress", "a/network-internal", "b/agent", "b/bundle", "b/network-egress", "b/network-internal"}
	if d := cmp.Diff(wantRoles, roles); d != "" {
		t.Fatalf("old-style state (-want +got):\n%s", d)
	}
}

// TestEgressScale applies 40 instances (more than the daemon's default
// pools have networks for, one egress network each) on this machine's
// Engine, verifies a sample and destroys them. It makes 41 networks, of
// which one comes from the default pools; it runs only with
// BOTTLEPLAN_SCALE_TEST=1 (minutes on a loaded machine).
func TestEgressScale(t *testing.T) {
	if os.Getenv("BOTTLEPLAN_SCALE_TEST") != "1" {
		t.Skip("set BOTTLEPLAN_SCALE_TEST=1 to apply 40 instances")
	}
	const n = 40
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng) // removes everything, even on failure
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t)})
	image := dockertest.AgentImage(t, eng)
	// n /28s in a /22 of 10.128.0.0/9 picked at random, as
	// dockertest.Plan picks a /24 (parallel runs rarely meet).
	var r [2]byte
	rand.Read(r[:])
	second, third := 128+int(r[0])%127, 4*(int(r[1])%64)
	p := dockertest.Plan(project, image)
	p.AddressPool = fmt.Sprintf("10.%d.%d.0/22", second, third)
	for k := range n {
		net0 := fmt.Sprintf("10.%d.%d.%d", second, third+k/16, 16*(k%16))
		in := dockertest.Instance(project, fmt.Sprintf("s%02d", k), image, net0)
		in.Bundle.Proxy.Routes = nil // verify dials nothing outside
		p.Instances = append(p.Instances, in)
	}

	start := time.Now()
	ch, err := converge(t, b, p, false, executor.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cold apply of %d instances: %s", n, time.Since(start).Round(time.Millisecond))
	if got := ch.Counts()[executor.Create]; got != 3*n+1 {
		t.Errorf("cold apply: %d creates, want %d (3 per instance, one egress network)", got, 3*n+1)
	}
	start = time.Now()
	if ops := pending(t, b, p); len(ops) != 0 {
		t.Fatalf("not converged: %v", ops)
	}
	t.Logf("no-op diff of %d instances: %s", n, time.Since(start).Round(time.Millisecond))
	for _, k := range []int{0, n / 2, n - 1} {
		in := p.Instances[k]
		checkInstance(t, eng, project, in)
		vs, err := b.Verify(context.Background(), p, in.Slug)
		if err != nil {
			t.Fatalf("verify %s: %v", in.Slug, err)
		}
		for _, v := range vs {
			if !v.Pass {
				t.Errorf("verify %s: %s failed: got %s", in.Slug, v.Name, v.Got)
			}
		}
	}
	start = time.Now()
	destroy(t, b, p)
	t.Logf("destroy of %d instances: %s", n, time.Since(start).Round(time.Millisecond))
	if left := dockertest.Owned(t, eng, project); len(left) != 0 {
		t.Fatalf("destroy left %v", left)
	}
}
