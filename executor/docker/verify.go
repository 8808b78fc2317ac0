package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/bottleplan/bottleplan/bundle/probewire"
	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// probeTimeout bounds a whole probe container run: create, the slowest
// probe (executor's allowed-route probe, 17 s) and removal.
const probeTimeout = 60 * time.Second

// Verify proves the sandbox of instance slug of p: it reads the live
// facts the checks need (the bundle's egress address, the host's bridge
// addresses), runs executor.VerifyChecks from a probe container at
// probe_ip, judges the results and adds executor.AgentChecks on the
// agent container's config. An error means verify could not run (the
// instance is not applied, the Engine failed); failed checks are results
// with Pass false.
func (b *Backend) Verify(ctx context.Context, p *plan.Plan, slug string) ([]executor.VerifyResult, error) {
	in := instanceOf(p, slug)
	if in == nil {
		return nil, fmt.Errorf("no instance %q in the plan", slug)
	}
	bi, err := b.liveBundle(ctx, p, in)
	if err != nil {
		return nil, err
	}
	facts := executor.VerifyFacts{HostAddrs: map[string]string{}}
	if ep := bi.NetworkSettings.Networks[executor.EgressNetwork(p.Project, in)]; ep != nil {
		facts.BundleEgressIP = ep.IPAddress
	}
	nets, err := b.eng.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range nets {
		// The host's default bridge, and every network of the project
		// (egress gateways are host addresses; other instances' internal
		// gateways should be nobody's) but the instance's own internal
		// network, whose gateway is direct-gateway.
		if n.Name != "bridge" && (n.Labels[executor.LabelProject] != p.Project || n.Name == in.Network.InternalName) {
			continue
		}
		for _, c := range n.IPAM.Config {
			if gw := gatewayOf(c); gw != "" {
				facts.HostAddrs[n.Name] = gw
			}
		}
	}
	checks, err := executor.VerifyChecks(p, slug, facts)
	if err != nil {
		return nil, err
	}
	targets := make([]probewire.Target, len(checks))
	for i, c := range checks {
		targets[i] = c.Probe
	}
	results, err := b.runProbes(ctx, p, in, bi, targets, nil)
	if err != nil {
		return nil, err
	}
	out := append([]executor.VerifyResult{executor.BundleConfigCheck(in, bi.Config.Labels[executor.LabelConfigHash])},
		executor.JudgeAll(slug, checks, results)...)

	ai, err := b.eng.ContainerInspect(ctx, in.Agent.ContainerName)
	switch {
	case isNotFound(err):
		out = append(out, executor.VerifyResult{Instance: slug, Name: executor.CheckAgentNetworks, Target: "container " + in.Agent.ContainerName,
			Expected: "a running agent", Got: "no such container; run apply"})
		return out, nil
	case err != nil:
		return nil, fmt.Errorf("inspect agent %q: %w", in.Agent.ContainerName, err)
	case ai.Config == nil || ai.Config.Labels[executor.LabelProject] != p.Project:
		return nil, fmt.Errorf("container %q is not bottleplan's agent of project %q", in.Agent.ContainerName, p.Project)
	}
	attached := map[string]string{}
	if ai.NetworkSettings != nil {
		for name, ep := range ai.NetworkSettings.Networks {
			attached[name] = ep.IPAddress
		}
	}
	var dns []string
	if ai.HostConfig != nil {
		dns = ai.HostConfig.DNS
	}
	return append(out, executor.AgentChecks(in, attached, dns)...), nil
}

// RunProbes runs targets with `bottleplan-bundle probe` in a probe
// container of instance slug (see runProbes) and returns the raw
// results. caPEM, when set, is put where the runner trusts it
// (plan.BundleCAFile), for probes that speak TLS through the instance CA.
func (b *Backend) RunProbes(ctx context.Context, p *plan.Plan, slug string, targets []probewire.Target, caPEM []byte) ([]probewire.Result, error) {
	in := instanceOf(p, slug)
	if in == nil {
		return nil, fmt.Errorf("no instance %q in the plan", slug)
	}
	bi, err := b.liveBundle(ctx, p, in)
	if err != nil {
		return nil, err
	}
	return b.runProbes(ctx, p, in, bi, targets, caPEM)
}

// liveBundle inspects the instance's bundle container and checks that it
// is ours and running: verify probes a bottle as it is, it never makes
// one.
func (b *Backend) liveBundle(ctx context.Context, p *plan.Plan, in *plan.Instance) (container.InspectResponse, error) {
	bi, err := b.eng.ContainerInspect(ctx, in.Bundle.ContainerName)
	if isNotFound(err) {
		return bi, fmt.Errorf("instance %q is not applied: no bundle container %q; run bottleplan apply first", in.Slug, in.Bundle.ContainerName)
	}
	if err != nil {
		return bi, fmt.Errorf("inspect bundle %q: %w", in.Bundle.ContainerName, err)
	}
	if bi.Config == nil || bi.Config.Labels[executor.LabelProject] != p.Project || bi.Config.Labels[executor.LabelRole] != string(executor.RoleBundle) {
		return bi, fmt.Errorf("container %q is not bottleplan's bundle of project %q; verify leaves it alone", in.Bundle.ContainerName, p.Project)
	}
	if bi.State == nil || !bi.State.Running {
		state := "missing state"
		if bi.State != nil {
			state = bi.State.Status
		}
		return bi, fmt.Errorf("the bundle of instance %q is %s, not running; run bottleplan apply", in.Slug, state)
	}
	if bi.NetworkSettings == nil {
		return bi, fmt.Errorf("the bundle of instance %q has no network settings", in.Slug)
	}
	return bi, nil
}

// ProbeContainerName is the name of instance slug's probe container.
func ProbeContainerName(project, slug string) string { return project + "-" + slug + "-probe" }

// runProbes creates the probe container: the live bundle's image and
// runtime, `bottleplan-bundle probe` on targets, at probe_ip on the
// internal network only, resolving through the bundle like the agent,
// labelled with role probe. It stands for the agent: root in the
// container with the agent's capability set (agentCapabilities, the one
// function both are made from) and no-new-privileges, so what it cannot
// do (open a raw socket) no process of the agent can. It waits for the
// JSON results and removes the container whatever happens.
func (b *Backend) runProbes(ctx context.Context, p *plan.Plan, in *plan.Instance, bundle container.InspectResponse, targets []probewire.Target, caPEM []byte) ([]probewire.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	arg, err := json.Marshal(targets)
	if err != nil {
		return nil, fmt.Errorf("encode probes: %w", err)
	}
	name := ProbeContainerName(p.Project, in.Slug)
	if err := b.removeStaleProbe(ctx, p.Project, name); err != nil {
		return nil, err
	}
	runtime := ""
	if bundle.HostConfig != nil {
		runtime = bundle.HostConfig.Runtime
	}
	cfg := &container.Config{
		Image:      bundle.Image,
		Entrypoint: []string{plan.BundleBinary},
		Cmd:        []string{probeCmd, string(arg)},
		Env:        []string{"HOME=/tmp"},
		// Root, the most the agent's image can run as: capabilities bind
		// only a root process (an unprivileged one has none effective).
		User:     "0:0",
		Labels:   executor.Labels(p.Project, in.Slug, executor.RoleProbe, "", p.PlanDigest),
		Hostname: "probe",
	}
	host := &container.HostConfig{
		Runtime:     runtime,
		SecurityOpt: []string{"no-new-privileges"},
		DNS:         []string{in.Network.BundleIP},
		LogConfig:   logConfig(),
	}
	host.CapAdd, host.CapDrop = agentCapabilities(b.agentCapAdd)
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		in.Network.InternalName: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: in.Network.ProbeIP}},
	}}
	resp, err := b.eng.ContainerCreate(ctx, cfg, host, nc, nil, name)
	if err != nil {
		return nil, fmt.Errorf("create probe container %q: %w", name, err)
	}
	defer func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer rcancel()
		b.eng.ContainerRemove(rctx, resp.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}()
	if caPEM != nil {
		archive, err := tarFiles([]file{{plan.BundleCAFile, 0o444, caPEM}}, bundleUID)
		if err != nil {
			return nil, err
		}
		if err := b.eng.CopyToContainer(ctx, resp.ID, "/", archive, container.CopyToContainerOptions{}); err != nil {
			return nil, fmt.Errorf("copy the CA into the probe container: %w", err)
		}
	}
	waitc, errc := b.eng.ContainerWait(ctx, resp.ID, container.WaitConditionNextExit)
	if err := b.eng.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		return nil, fmt.Errorf("start probe container %q: %w", name, err)
	}
	var code int64
	select {
	case w := <-waitc:
		if w.Error != nil {
			return nil, fmt.Errorf("wait for probe container %q: %s", name, w.Error.Message)
		}
		code = w.StatusCode
	case err := <-errc:
		return nil, fmt.Errorf("wait for probe container %q: %w", name, err)
	}
	rc, err := b.eng.ContainerLogs(ctx, resp.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return nil, fmt.Errorf("read probe results: %w", err)
	}
	defer rc.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, rc); err != nil {
		return nil, fmt.Errorf("read probe results: %w", err)
	}
	if code != 0 {
		return nil, fmt.Errorf("probe runner exited %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	var results []probewire.Result
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		return nil, fmt.Errorf("probe runner output is not JSON results: %w", err)
	}
	return results, nil
}

// removeStaleProbe removes a probe container an interrupted verify left
// under name. A container of that name that is not our probe is an
// error, not a thing to remove.
func (b *Backend) removeStaleProbe(ctx context.Context, project, name string) error {
	ci, err := b.eng.ContainerInspect(ctx, name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect %q: %w", name, err)
	}
	if ci.Config == nil || ci.Config.Labels[executor.LabelProject] != project || ci.Config.Labels[executor.LabelRole] != string(executor.RoleProbe) {
		return fmt.Errorf("container %q exists and is not a bottleplan probe of project %q; remove or rename it", name, project)
	}
	if err := b.eng.ContainerRemove(ctx, ci.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove the probe container an earlier verify left: %w", err)
	}
	return nil
}

// gatewayOf returns the IPv4 gateway of an IPAM config: the one given,
// else the first host address of the subnet, which is what the Engine
// assigns (and leaves out of the config) when none was asked for.
func gatewayOf(c network.IPAMConfig) string {
	if c.Gateway != "" {
		if strings.Contains(c.Gateway, ":") {
			return ""
		}
		return c.Gateway
	}
	pfx, err := netip.ParsePrefix(c.Subnet)
	if err != nil || !pfx.Addr().Is4() {
		return ""
	}
	return pfx.Masked().Addr().Next().String()
}

func instanceOf(p *plan.Plan, slug string) *plan.Instance {
	for i := range p.Instances {
		if p.Instances[i].Slug == slug {
			return &p.Instances[i]
		}
	}
	return nil
}

// VerifySlugs returns the slugs of p's docker instances, sorted.
func VerifySlugs(p *plan.Plan) []string {
	var out []string
	for _, in := range p.Instances {
		if in.Backend == plan.BackendDocker {
			out = append(out, in.Slug)
		}
	}
	sort.Strings(out)
	return out
}
