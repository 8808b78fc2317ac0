package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// inhibitIPv4 keeps the host off the internal network: without it the
// bridge gets the gateway address and the agent can reach the host's
// services through it.
const inhibitIPv4 = "com.docker.network.bridge.inhibit_ipv4"

// enableICC is the bridge option that, set to "false", drops traffic
// between containers on the bridge: the project's egress network has it
// off, so no bundle reaches another's egress address.
const enableICC = "com.docker.network.bridge.enable_icc"

// bundleUID runs the bundle process unprivileged; its files are owned by
// it so the CA key can stay 0600.
const bundleUID = 65534

// Create makes one resource; see executor.Backend.
func (b *Backend) Create(ctx context.Context, req executor.CreateRequest) error {
	switch req.Role {
	case executor.RoleNetworkEgress:
		return b.createEgressNetwork(ctx, req)
	case executor.RoleNetworkInternal:
		return b.createNetwork(ctx, req)
	case executor.RoleBundle, executor.RoleAgent:
		return b.createContainer(ctx, req)
	}
	return fmt.Errorf("unknown role %q", req.Role)
}

func labels(req executor.CreateRequest, hash string) map[string]string {
	l := executor.Labels(req.Project, req.Instance.Slug, req.Role, hash, req.PlanDigest)
	l[executor.LabelConfigFields] = executor.ConfigFields(req.Instance, req.Role)
	if !req.Role.IsNetwork() && req.CA != nil {
		l[LabelCAFingerprint] = executor.Fingerprint(req.CA.CertPEM)
		if ds := executor.CertDomains(req.CA.CertPEM); ds != nil {
			l[LabelCADomains] = strings.Join(ds, ",")
		}
	}
	return l
}

// containerLabels are labels plus LabelLimits: the limits the container
// is made with (limits.go).
func (b *Backend) containerLabels(req executor.CreateRequest, hash string) map[string]string {
	l := labels(req, hash)
	l[LabelLimits] = b.limitsDigest(req.Role)
	return l
}

// createNetwork makes the instance's internal network at its pinned
// subnet.
func (b *Backend) createNetwork(ctx context.Context, req executor.CreateRequest) error {
	in := req.Instance
	opts := network.CreateOptions{Driver: "bridge", Labels: labels(req, in.ConfigHash.Network)}
	opts.IPAM = &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: in.Network.Subnet, Gateway: in.Network.Gateway}}}
	// smolmachines: a plain bridge. The agent is a microVM whose
	// traffic leaves through the host and whose allow list holds only
	// bundle_ip/32, so the host must route to the bundle, and the
	// bundle egresses through this bridge (there is no egress network).
	if in.Backend != plan.BackendSmolmachines {
		opts.Internal = true
		opts.Options = map[string]string{inhibitIPv4: "true"}
	}
	return b.makeNetwork(ctx, in.Network.InternalName, opts, req.Step)
}

// createEgressNetwork makes the project's egress network (see
// executor/egress.go): a plain bridge whose subnet the Engine picks from
// its default pools, traffic between its containers off.
func (b *Backend) createEgressNetwork(ctx context.Context, req executor.CreateRequest) error {
	return b.makeNetwork(ctx, req.Name, network.CreateOptions{
		Driver:  "bridge",
		Labels:  executor.EgressLabels(req.Project, req.Name, req.PlanDigest),
		Options: map[string]string{enableICC: "false"},
	}, req.Step)
}

func (b *Backend) makeNetwork(ctx context.Context, name string, opts network.CreateOptions, step executor.StepFunc) error {
	if _, err := b.eng.NetworkCreate(ctx, name, opts); err != nil {
		if cerrdefs.IsConflict(err) {
			return fmt.Errorf("create network: %w (a network bottleplan does not own may hold the name %q; remove or rename it)", err, name)
		}
		return fmt.Errorf("create network: %w", err)
	}
	return step("created")
}

// containerSpec is everything ContainerCreate gets for one container.
type containerSpec struct {
	name    string
	config  *container.Config
	host    *container.HostConfig
	ip      string // on the internal network
	egress  string // the egress network it also joins ("" for none)
	files   []file
	fileUID int
}

func (b *Backend) spec(req executor.CreateRequest) (*containerSpec, error) {
	in := req.Instance
	b.mu.Lock()
	runtime := b.runtimes[in.Slug]
	bundleImage, agentImage, roots := b.bundleImage, b.agentImages[in.Slug], b.roots
	b.mu.Unlock()
	host := &container.HostConfig{
		Runtime:     runtime,
		SecurityOpt: []string{"no-new-privileges"},
		// No published ports, no host mounts: the containers talk to each
		// other over the internal network only.
	}
	// Capabilities, log rotation, pids (and the bundle's memory).
	b.applyLimits(req.Role, in, host)
	if req.CA == nil {
		return nil, fmt.Errorf("no instance CA")
	}
	switch req.Role {
	case executor.RoleBundle:
		if bundleImage == "" {
			return nil, fmt.Errorf("bundle image not prepared")
		}
		instJSON, err := json.MarshalIndent(in, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encode instance: %w", err)
		}
		host.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}
		// The operator API's socket (bundle.OperatorSocket) lives in
		// memory, in a directory only the bundle's user can enter; the
		// FROM scratch root is not the bundle user's to write.
		host.Tmpfs = map[string]string{path.Dir(plan.BundleOperatorSocket): fmt.Sprintf("mode=0700,uid=%d,gid=%d,size=64k,noexec,nosuid,nodev", bundleUID, bundleUID)}
		cs := &containerSpec{
			name: in.Bundle.ContainerName,
			config: &container.Config{
				Image:      bundleImage,
				Entrypoint: []string{plan.BundleBinary},
				Cmd:        bundleServeCmd,
				Env:        append(append([]string{"HOME=/tmp"}, bundleEnv()...), req.Env...),
				User:       fmt.Sprintf("%d:%d", bundleUID, bundleUID),
				Labels:     b.containerLabels(req, in.ConfigHash.Bundle),
				Hostname:   "bundle",
			},
			host:   host,
			ip:     in.Network.BundleIP,
			egress: executor.EgressNetwork(req.Project, in),
			files: []file{
				{plan.BundleInstanceFile, 0o444, append(instJSON, '\n')},
				{plan.BundleCAFile, 0o444, req.CA.CertPEM},
				{plan.BundleCAKeyFile, 0o600, req.CA.KeyPEM},
			},
			fileUID: bundleUID,
		}
		for _, repo := range slices.Sorted(maps.Keys(req.SSHKeys)) {
			cs.files = append(cs.files, file{path.Join(plan.BundleSSHKeyDir, repo), 0o600, req.SSHKeys[repo]})
		}
		cs.withRoots(roots)
		return cs, nil
	case executor.RoleAgent:
		if agentImage == "" {
			return nil, fmt.Errorf("agent image not prepared")
		}
		// The guest has no DNS. Docker's embedded resolver (127.0.0.11)
		// would forward unknown names to the host's resolvers, from the
		// host's namespace when those are on loopback (CVE-2024-29018,
		// unfixed in Engine 20.10): a way out of an internal network.
		// With the bundle as the only upstream, forwarded queries go to
		// bundle_ip:53 from the agent's own namespace, where nothing
		// answers.
		host.DNS = []string{in.Network.BundleIP}
		// The plan's resources are the agent's; the bundle is small and
		// must not starve with it.
		if r := in.Agent.Resources; r != nil {
			host.Resources.NanoCPUs = int64(r.CPUs) * 1e9
			host.Resources.Memory = int64(r.MemoryMiB) << 20
		}
		env := make([]string, 0, len(in.GuestEnv)+len(req.Env))
		for _, k := range slices.Sorted(maps.Keys(in.GuestEnv)) {
			env = append(env, k+"="+in.GuestEnv[k])
		}
		env = append(env, req.Env...)
		return &containerSpec{
			name: in.Agent.ContainerName,
			config: &container.Config{
				Image:    agentImage,
				Cmd:      in.Agent.Command,
				Env:      env,
				Labels:   b.containerLabels(req, in.ConfigHash.Agent),
				Hostname: in.Slug,
				// An interactive CLI waits on its terminal for the
				// operator (bottleplan attach), as `docker run -it`.
				Tty:       in.Agent.Terminal,
				OpenStdin: in.Agent.Terminal,
			},
			host: host,
			ip:   in.Network.AgentIP,
			files: []file{
				// The instance CA first: Observe fingerprints the first
				// certificate.
				{plan.GuestCAFile, 0o444, append(append([]byte{}, req.CA.CertPEM...), roots...)},
				{plan.GuestPromptFile, 0o444, []byte(in.Agent.Prompt)},
			},
		}, nil
	}
	return nil, fmt.Errorf("role %q is not a container", req.Role)
}

// createContainer creates the container on the internal network at its
// pinned address, joins the egress network (bundle), copies its files in
// and starts it, reporting each step. A container left behind by a step
// that did not finish is never started, so Diff sees "created" and
// replaces it.
func (b *Backend) createContainer(ctx context.Context, req executor.CreateRequest) error {
	s, err := b.spec(req)
	if err != nil {
		return err
	}
	in := req.Instance
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		in.Network.InternalName: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: s.ip}},
	}}
	resp, err := b.eng.ContainerCreate(ctx, s.config, s.host, nc, nil, s.name)
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return fmt.Errorf("create container: %w (a container bottleplan does not own may hold the name %q; remove or rename it)", err, s.name)
		}
		return fmt.Errorf("create container: %w", err)
	}
	if err := req.Step("created"); err != nil {
		return err
	}
	if s.egress != "" {
		if err := b.eng.NetworkConnect(ctx, s.egress, resp.ID, &network.EndpointSettings{}); err != nil {
			return fmt.Errorf("connect to network %q: %w", s.egress, err)
		}
		if err := req.Step("connected"); err != nil {
			return err
		}
	}
	archive, err := tarFiles(s.files, s.fileUID)
	if err != nil {
		return err
	}
	if err := b.eng.CopyToContainer(ctx, resp.ID, "/", archive, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("copy files into the container: %w", err)
	}
	if err := req.Step("configured"); err != nil {
		return err
	}
	if err := b.eng.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return req.Step("started")
}

// Start starts a stopped container.
func (b *Backend) Start(ctx context.Context, r executor.Resource, step executor.StepFunc) error {
	if err := b.eng.ContainerStart(ctx, r.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return step("started")
}

// Remove removes a container (forcibly, with its anonymous volumes) or a
// network. What is already gone counts as removed.
func (b *Backend) Remove(ctx context.Context, r executor.Resource, step executor.StepFunc) error {
	var err error
	if r.Role.IsNetwork() {
		err = b.eng.NetworkRemove(ctx, r.ID)
		if err != nil && strings.Contains(err.Error(), "active endpoints") {
			// Seen on Engine 20.10 after the last of 100 bundles on the
			// project's egress network was removed (docs/BENCHMARKS.md).
			err = fmt.Errorf("%w (if no container is left on it, the Engine lost count of its endpoints, moby/moby#43286, and only restarting the Docker daemon clears it; the network is harmless until then and apply reuses it)", err)
		}
	} else {
		err = b.eng.ContainerRemove(ctx, r.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}
	if err != nil && !isNotFound(err) {
		return err
	}
	return step("removed")
}
