package docker_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/bottleplan/bottleplan/bundle/probewire"
	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

// Route hosts the test upstream answers to (Docker network aliases).
const (
	tunnelHost = "tunnel.bottleplan.test"
	authHost   = "auth.bottleplan.test"
	gitHost    = "git.bottleplan.test"
)

// verifyFixture is one fresh apply of a two-instance plan with a local
// upstream, shared by the verify and token subtests to keep the suite
// lean: "a" tunnels to the upstream and gates a read repo on it; "b"
// intercepts and injects a token.
type verifyFixture struct {
	eng   *client.Client
	b     *docker.Backend
	p     *plan.Plan
	token string
}

func newVerifyFixture(t *testing.T) *verifyFixture {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	certs := dockertest.NewUpstreamCerts(t, tunnelHost, authHost, gitHost)
	// The bundle trusts the test CA the way production bundles trust the
	// host's roots: through Options.RootsFile, baked into the image.
	roots := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, certs.CAPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t), RootsFile: roots})
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "a", "b")
	a, bb := &p.Instances[0], &p.Instances[1]
	a.Bundle.Proxy.Routes = []plan.Route{{Host: tunnelHost, Ports: []int{443}, DLP: "block"}}
	a.Bundle.GitGate = &plan.GitGate{Listen: a.Network.BundleIP + ":9418", Repos: []plan.Repo{{
		Name: "docs", Upstream: "https://" + gitHost + "/docs.git", GateURL: "http://" + a.Network.BundleIP + ":9418/docs.git",
		Access: "read", KeyProvider: "token", TokenRef: "GIT_TOKEN",
	}}}
	a.Bundle.SecretsFromHost = []string{"GIT_TOKEN"}
	bb.Bundle.Proxy.Routes = []plan.Route{{Host: authHost, Ports: []int{443}, DLP: "block", Intercept: true,
		Auth: &plan.RouteAuth{Scheme: "Bearer", TokenRef: "UPSTREAM_TOKEN"}}}
	bb.Bundle.SecretsFromHost = []string{"UPSTREAM_TOKEN"}

	dockertest.PublicEgress(t, eng, p)
	dockertest.StartUpstream(t, eng, p, certs, tunnelHost, authHost, gitHost)
	f := &verifyFixture{eng: eng, b: b, p: p, token: "tok-" + project + "-real-value"}
	_, err := converge(t, b, p, false, executor.ApplyOptions{Secrets: map[string]executor.InstanceSecrets{
		"a": {Bundle: []string{"GIT_TOKEN=git-" + f.token}},
		"b": {Bundle: []string{"UPSTREAM_TOKEN=" + f.token}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// verify runs Verify on slug and returns the results by check name.
func (f *verifyFixture) verify(t *testing.T, slug string) map[string]executor.VerifyResult {
	t.Helper()
	rs, err := f.b.Verify(context.Background(), f.p, slug)
	if err != nil {
		t.Fatalf("verify %s: %v", slug, err)
	}
	out := map[string]executor.VerifyResult{}
	for _, r := range rs {
		out[r.Name] = r
		t.Logf("%s %s: pass=%v got %q", slug, r.Name, r.Pass, r.Got)
	}
	f.noProbeLeft(t)
	return out
}

// noProbeLeft fails when a probe container outlived its verify.
func (f *verifyFixture) noProbeLeft(t *testing.T) {
	t.Helper()
	cs, err := f.eng.ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", executor.LabelProject+"="+f.p.Project), filters.Arg("label", executor.LabelRole+"="+string(executor.RoleProbe)))})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 0 {
		t.Errorf("%d probe containers left after verify", len(cs))
	}
}

// failing returns the names of the checks that failed.
func failing(rs map[string]executor.VerifyResult) []string {
	var out []string
	for name, r := range rs {
		if !r.Pass {
			out = append(out, name)
		}
	}
	return out
}

// expectOnlyFailing fails unless exactly the checks in want failed.
func expectOnlyFailing(t *testing.T, rs map[string]executor.VerifyResult, want ...string) {
	t.Helper()
	got := failing(rs)
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
		if _, ok := rs[w]; !ok {
			t.Errorf("check %s did not run", w)
		}
	}
	for _, g := range got {
		if !wantSet[g] {
			t.Errorf("check %s failed (got %q, want %q); only %v should", g, rs[g].Got, rs[g].Expected, want)
		}
	}
	for _, w := range want {
		if rs[w].Pass {
			t.Errorf("check %s passed (got %q) with its guarantee broken", w, rs[w].Got)
		}
	}
}

// TestVerify applies once, proves both bottles, then breaks one
// guarantee at a time and checks that exactly the check guarding it
// fails, restoring the bottle in between.
func TestVerify(t *testing.T) {
	f := newVerifyFixture(t)
	a := &f.p.Instances[0]

	t.Run("fresh apply passes", func(t *testing.T) {
		egress := map[string]bool{}
		for _, slug := range []string{"a", "b"} {
			rs := f.verify(t, slug)
			expectOnlyFailing(t, rs)
			for _, name := range []string{executor.CheckProxyReachable, executor.CheckProxyAllows, executor.CheckProxyDeniesHost,
				executor.CheckProxyDeniesPort, executor.CheckDirectGateway, executor.CheckDirectBundleEgr, executor.CheckDirectHost + "/bridge",
				executor.CheckRoutesOut, executor.CheckDNSResolver, executor.CheckDNSBundle, executor.CheckAgentNetworks, executor.CheckAgentDNS} {
				if _, ok := rs[name]; !ok {
					t.Errorf("%s: check %s did not run", slug, name)
				}
			}
			// The table was read and holds the instance's link route.
			in := f.p.Instances[0]
			if slug == "b" {
				in = f.p.Instances[1]
			}
			if got := rs[executor.CheckRoutesOut].Got; !strings.Contains(got, in.Network.Subnet+" on link") {
				t.Errorf("%s: routes got %q, want the link route of %s", slug, got, in.Network.Subnet)
			}
			// The allowed probe went through end to end: a's tunnel
			// reached the upstream; b's intercepted route was accepted.
			if got := rs[executor.CheckProxyAllows].Got; !strings.HasPrefix(got, "200") {
				t.Errorf("%s: allowed route got %q, want 200", slug, got)
			}
			if _, ok := rs[executor.CheckGateRefusesPush+"/docs"]; ok != (slug == "a") {
				t.Errorf("%s: the read repo's push probe ran: %v", slug, ok)
			}
			for _, in := range f.p.Instances {
				if _, ok := rs[executor.CheckDirectHost+"/"+in.Network.EgressName]; ok {
					egress[in.Network.EgressName] = true
				}
			}
		}
		if len(egress) != 1 {
			t.Errorf("the egress gateways probed: %v; want the project's one", egress)
		}
	})

	t.Run("route removed from the bundle config", func(t *testing.T) {
		f.tamper(t, a, func(in *plan.Instance) { in.Bundle.Proxy.Routes = nil })
		defer f.tamper(t, a, func(*plan.Instance) {})
		rs := f.verify(t, "a")
		expectOnlyFailing(t, rs, executor.CheckProxyAllows)
		if got := rs[executor.CheckProxyAllows].Got; !strings.HasPrefix(got, "403 blocked:") {
			t.Errorf("allowed route got %q, want the proxy's denial", got)
		}
	})

	t.Run("read repo made writable in the bundle", func(t *testing.T) {
		f.tamper(t, a, func(in *plan.Instance) { in.Bundle.GitGate.Repos[0].Access = "read-write" })
		defer f.tamper(t, a, func(*plan.Instance) {})
		rs := f.verify(t, "a")
		expectOnlyFailing(t, rs, executor.CheckGateRefusesPush+"/docs")
	})

	t.Run("agent attached to the default bridge", func(t *testing.T) {
		ctx := context.Background()
		if err := f.eng.NetworkConnect(ctx, "bridge", a.Agent.ContainerName, nil); err != nil {
			t.Fatal(err)
		}
		defer f.eng.NetworkDisconnect(ctx, "bridge", a.Agent.ContainerName, true)
		rs := f.verify(t, "a")
		expectOnlyFailing(t, rs, executor.CheckAgentNetworks)
	})

	// verify never builds this bottle itself, so the routes probe runs
	// in a container that has the agent's attachment plus the egress
	// network, and once without it as the control.
	t.Run("sandbox container also on the egress network", func(t *testing.T) {
		if v := f.routesOn(t, a); !v.Pass {
			t.Errorf("routes on the internal network only: got %q, want a pass", v.Got)
		}
		egress, err := f.eng.NetworkInspect(context.Background(), a.Network.EgressName, network.InspectOptions{})
		if err != nil || len(egress.IPAM.Config) == 0 {
			t.Fatalf("inspect %s: %v", a.Network.EgressName, err)
		}
		// The Engine names interfaces as it likes; the routes it adds are
		// the egress subnet's link route and, the network not being
		// internal, the default route via its gateway.
		v := f.routesOn(t, a, a.Network.EgressName)
		ec := egress.IPAM.Config[0]
		gw := ec.Gateway
		if gw == "" { // the Engine's pick, the subnet's first address
			gw = netip.MustParsePrefix(ec.Subnet).Masked().Addr().Next().String()
		}
		for _, want := range []string{ec.Subnet + " on link ", "(another network)", "default via " + gw + " on ", "(not the instance gateway)"} {
			if v.Pass || !strings.Contains(v.Got, want) {
				t.Errorf("routes with the egress network attached: pass %v, got %q; want a failure naming %q", v.Pass, v.Got, want)
			}
		}
	})

	t.Run("token injection", func(t *testing.T) { f.tokenInjection(t) })

	// Last: it leaves a's network rebuilt.
	t.Run("host given an address on the internal network", func(t *testing.T) {
		f.hostOnInternal(t, a)
		rs := f.verify(t, "a")
		var want []string
		for name := range rs {
			if name == executor.CheckDirectGateway || strings.HasPrefix(name, executor.CheckDirectHost+"/") && !strings.HasSuffix(name, "-internal") {
				want = append(want, name)
			}
		}
		expectOnlyFailing(t, rs, want...)
		if len(want) != 3 {
			t.Errorf("failing host checks %v; want the gateway, the default bridge and the egress gateway", want)
		}
	})
}

// hostOnInternal rebuilds in's internal network as Docker makes it by
// default: still internal (the Engine drops what it would forward, so
// nothing leaves the machine) but without
// com.docker.network.bridge.inhibit_ipv4, so the host holds the gateway
// address and answers there and on every other address it owns. The
// bundle and agent are reattached at their addresses and the bundle
// restarted so its listeners bind again.
func (f *verifyFixture) hostOnInternal(t *testing.T, in *plan.Instance) {
	t.Helper()
	ctx := context.Background()
	nw := in.Network
	old, err := f.eng.NetworkInspect(ctx, nw.InternalName, network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{in.Bundle.ContainerName, in.Agent.ContainerName} {
		if err := f.eng.NetworkDisconnect(ctx, nw.InternalName, c, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.eng.NetworkRemove(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.NetworkCreate(ctx, nw.InternalName, network.CreateOptions{
		Driver: "bridge", Internal: true, Labels: old.Labels,
		IPAM: &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: nw.Subnet, Gateway: nw.Gateway}}},
	}); err != nil {
		t.Fatal(err)
	}
	for c, ip := range map[string]string{in.Bundle.ContainerName: nw.BundleIP, in.Agent.ContainerName: nw.AgentIP} {
		if err := f.eng.NetworkConnect(ctx, nw.InternalName, c, &network.EndpointSettings{IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip}}); err != nil {
			t.Fatal(err)
		}
	}
	f.tamper(t, in, func(*plan.Instance) {})
}

// tokenInjection: a request from b's internal network through the proxy
// reaches the upstream with the real token from the host env, while the
// agent's environment and every bundle log line lack it.
func (f *verifyFixture) tokenInjection(t *testing.T) {
	ctx := context.Background()
	b := &f.p.Instances[1]
	agent, err := f.eng.ContainerInspect(ctx, b.Agent.ContainerName)
	if err != nil {
		t.Fatal(err)
	}
	// The probe trusts what the agent trusts: the instance CA file.
	ca, err := docker.ReadFile(ctx, f.eng, agent.ID, plan.GuestCAFile)
	if err != nil || len(ca) == 0 {
		t.Fatalf("read the agent's CA file: %v (%d bytes)", err, len(ca))
	}
	rs, err := f.b.RunProbes(ctx, f.p, "b", []probewire.Target{{
		Name: "through the proxy", Kind: probewire.HTTP, URL: "https://" + authHost + "/v1/messages",
		Proxy: b.Endpoints.ProxyURL, TimeoutMS: 10000,
	}}, ca)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("Bearer " + f.token))
	want := "upstream ok auth-sha256=" + hex.EncodeToString(sum[:])
	if len(rs) != 1 || rs[0].Status != 200 || strings.TrimSpace(rs[0].Body) != want {
		t.Fatalf("request through the proxy: %+v; want 200 %q", rs, want)
	}

	for _, e := range agent.Config.Env {
		if strings.Contains(e, f.token) {
			t.Errorf("the agent's environment holds the token in %s", strings.SplitN(e, "=", 2)[0])
		}
	}
	logs := containerLogs(t, f.eng, b.Bundle.ContainerName) + containerLogs(t, f.eng, f.p.Instances[0].Bundle.ContainerName)
	if strings.Contains(logs, f.token) {
		t.Error("a bundle log line holds the token")
	}
	// The log is not empty: the injected request was recorded.
	if !strings.Contains(logs, authHost) {
		t.Errorf("bundle logs do not record the request to %s:\n%s", authHost, logs)
	}
}

// tamper rewrites the instance config inside in's bundle as fn leaves a
// copy of the planned instance, and restarts the bundle: a change the
// labels cannot show. fn doing nothing restores the plan.
func (f *verifyFixture) tamper(t *testing.T, in *plan.Instance, fn func(*plan.Instance)) {
	t.Helper()
	ctx := context.Background()
	var cp plan.Instance
	data, _ := json.Marshal(in)
	json.Unmarshal(data, &cp)
	fn(&cp)
	data, err := json.MarshalIndent(&cp, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(plan.BundleInstanceFile, "/"), Mode: 0o444, Size: int64(len(data)), Uid: 65534, Gid: 65534})
	tw.Write(data)
	tw.Close()
	name := in.Bundle.ContainerName
	if err := f.eng.CopyToContainer(ctx, name, "/", &buf, container.CopyToContainerOptions{}); err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	if err := f.eng.ContainerRestart(ctx, name, container.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	// Wait for the proxy to listen again.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(containerLogsSince(t, f.eng, name, since), "proxy listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("bundle %s did not listen again after the restart", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func containerLogs(t *testing.T, eng *client.Client, name string) string {
	return containerLogsSince(t, eng, name, time.Time{})
}

func containerLogsSince(t *testing.T, eng *client.Client, name string, since time.Time) string {
	t.Helper()
	stdout, stderr, err := containerOutput(eng, name, since)
	if err != nil {
		t.Fatal(err)
	}
	return stdout + stderr
}

// containerOutput reads a container's log (dockertest.ContainerOutput).
func containerOutput(eng *client.Client, name string, since time.Time) (stdout, stderr string, err error) {
	return dockertest.ContainerOutput(eng, name, since)
}
