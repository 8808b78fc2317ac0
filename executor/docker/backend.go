package docker

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// Options configure a Backend.
type Options struct {
	// BundleBinary is the path of the static bottleplan-bundle binary the
	// bundle image is built around (see CheckStatic); "" when there is
	// none, and Prepare fails with ErrNoBundleBinary if it needs one.
	BundleBinary string
	// ManifestRoot is the directory agent.dockerfile paths are relative
	// to (the manifest's directory, or the plan file's).
	ManifestRoot string
	// RootsFile is the host's public root certificate bundle (see
	// HostRootsFile); "" for none. It goes into each bundle container at
	// BundleRootsFile (withRoots), and after the instance CA into the agent's
	// GuestCAFile: SSL_CERT_FILE points there, so the agent verifies both
	// intercepted hosts (instance CA) and tunnelled ones (public roots).
	RootsFile string
	// Log, when set, receives one line per long step that is not a
	// resource change (building an image).
	Log func(msg string)
}

// Backend implements executor.Backend on a Docker Engine.
type Backend struct {
	eng  Engine
	opts Options

	// Filled by Prepare, read by Create.
	mu          sync.Mutex
	roots       []byte // RootsFile's content, read once
	bundleImage string
	agentImages map[string]string // slug -> image reference
	runtimes    map[string]string // slug -> OCI runtime ("" = Engine default)

	// agentCapAdd is empty outside tests: capabilities added to the
	// agent's (and so to the verify probe's) set, to show verify failing
	// on an agent that has them (SetAgentCapAdd in export_test.go).
	agentCapAdd []string
}

var _ executor.Backend = (*Backend)(nil)

func (b *Backend) log(format string, args ...any) {
	if b.opts.Log != nil {
		b.opts.Log(fmt.Sprintf(format, args...))
	}
}

// New returns a Backend that talks to eng.
func New(eng Engine, opts Options) *Backend {
	return &Backend{eng: eng, opts: opts, agentImages: map[string]string{}, runtimes: map[string]string{}}
}

func projectFilter(project string) filters.Args {
	return filters.NewArgs(filters.Arg("label", executor.LabelProject+"="+project))
}

// Observe reads the project's containers (any state) and networks, and
// every network's subnets. It changes nothing.
func (b *Backend) Observe(ctx context.Context, project string) (*executor.Observed, error) {
	obs := &executor.Observed{Project: project}
	nets, err := b.eng.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range nets {
		hn := executor.HostNetwork{Name: n.Name, Project: n.Labels[executor.LabelProject]}
		for _, c := range n.IPAM.Config {
			if c.Subnet != "" {
				hn.Subnets = append(hn.Subnets, c.Subnet)
			}
		}
		obs.Networks = append(obs.Networks, hn)
		if hn.Project != project {
			continue
		}
		r := b.resourceFromLabels(n.Labels)
		r.ID, r.Name, r.Internal = n.ID, n.Name, n.Internal
		for _, c := range n.IPAM.Config {
			if !strings.Contains(c.Subnet, ":") {
				r.Subnet, r.Gateway = c.Subnet, c.Gateway
				break
			}
		}
		obs.Resources = append(obs.Resources, r)
	}
	sort.Slice(obs.Networks, func(i, j int) bool { return obs.Networks[i].Name < obs.Networks[j].Name })

	cs, err := b.eng.ContainerList(ctx, container.ListOptions{All: true, Filters: projectFilter(project)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	// Each container costs an inspect and a copy out of its file system
	// (the CA): tens of milliseconds of Engine time, so they are read
	// observeParallelism at a time. Results keep the list's order.
	var ids []string
	for _, c := range cs {
		if c.Labels[executor.LabelProject] != project {
			continue // the filter already did this; never trust one check
		}
		if r, ok := b.fromList(c); ok && !observeByInspect {
			obs.Resources = append(obs.Resources, r)
			continue
		}
		ids = append(ids, c.ID)
	}
	rs := make([]executor.Resource, len(ids))
	found := make([]bool, len(ids))
	errs := make([]error, len(ids))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(observeParallelism, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				r, err := b.observeContainer(ctx, ids[i])
				switch {
				case isNotFound(err): // removed between list and inspect
				case err != nil:
					errs[i] = err
				default:
					rs[i], found[i] = r, true
				}
			}
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if found[i] {
			obs.Resources = append(obs.Resources, rs[i])
		}
	}
	return obs, nil
}

// observeParallelism bounds the containers Observe reads at once.
const observeParallelism = 8

// LabelCAFingerprint is set on every container the backend creates:
// executor.Fingerprint of the instance CA certificate it copies into the
// container before starting it. A container is only ever started after
// its files were copied in, so for a running container that carries the
// label, the label tells what reading the CA file would, without an
// inspect and a copy out of the container's file system per container
// (about 50 ms of Engine time each: the whole of a no-op apply).
// Containers that are not running, or were made before the label
// existed, are still inspected and read.
const LabelCAFingerprint = "io.bottleplan.ca-fingerprint"

// LabelCADomains is set beside LabelCAFingerprint when the CA carries
// name constraints: its permitted DNS domains (executor.CertDomains),
// comma-separated, or "*" (executor.AnyDNSName) for a supervised
// instance's CA, which permits every DNS name and no IP, so Diff keeps it
// while supervise stays on, whatever the routes. Route host names, never secrets. Diff reads them to
// keep a CA that still covers the plan's route hosts. A running container
// with the fingerprint but not this label holds a CA made before CAs were
// constrained, so reading no domains from its list entry is right; a
// container that is not running is read from its CA file.
const LabelCADomains = "io.bottleplan.ca-domains"

// observeByInspect makes Observe inspect every container (tests compare
// the two ways).
var observeByInspect = false

// fromList builds the Resource of a running container that carries
// LabelCAFingerprint from its list entry alone; ok is false for any other
// container.
func (b *Backend) fromList(c container.Summary) (executor.Resource, bool) {
	fp := c.Labels[LabelCAFingerprint]
	if c.State != "running" || fp == "" || len(c.Names) == 0 || c.NetworkSettings == nil {
		return executor.Resource{}, false
	}
	r := b.resourceFromLabels(c.Labels)
	r.ID, r.Name, r.State, r.CAFingerprint, r.ImageID = c.ID, strings.TrimPrefix(c.Names[0], "/"), c.State, fp, c.ImageID
	if d := c.Labels[LabelCADomains]; d != "" {
		r.CADomains = strings.Split(d, ",")
	}
	r.Addresses = map[string]string{}
	for name, ep := range c.NetworkSettings.Networks {
		if ep == nil {
			return executor.Resource{}, false
		}
		ip := ep.IPAddress
		if ip == "" && ep.IPAMConfig != nil {
			ip = ep.IPAMConfig.IPv4Address
		}
		r.Addresses[name] = ip
	}
	return r, true
}

func (b *Backend) observeContainer(ctx context.Context, id string) (executor.Resource, error) {
	ci, err := b.eng.ContainerInspect(ctx, id)
	if err != nil {
		return executor.Resource{}, fmt.Errorf("inspect container %s: %w", id, err)
	}
	r := b.resourceFromLabels(ci.Config.Labels)
	r.ID, r.Name, r.ImageID = ci.ID, strings.TrimPrefix(ci.Name, "/"), ci.Image
	if ci.State != nil {
		r.State, r.ExitCode = ci.State.Status, ci.State.ExitCode
	}
	if ci.NetworkSettings != nil {
		r.Addresses = map[string]string{}
		for name, ep := range ci.NetworkSettings.Networks {
			ip := ep.IPAddress
			if ip == "" && ep.IPAMConfig != nil {
				ip = ep.IPAMConfig.IPv4Address
			}
			r.Addresses[name] = ip
		}
	}
	caPath := plan.GuestCAFile
	if r.Role == executor.RoleBundle {
		caPath = plan.BundleCAFile
	}
	cert, err := b.readFile(ctx, id, caPath)
	if err != nil {
		return executor.Resource{}, err
	}
	r.CAFingerprint = executor.Fingerprint(cert)
	r.CADomains = executor.CertDomains(cert)
	return r, nil
}

func (b *Backend) resourceFromLabels(l map[string]string) executor.Resource {
	role := executor.Role(l[executor.LabelRole])
	return executor.Resource{
		Role:         role,
		Instance:     l[executor.LabelInstance],
		ConfigHash:   l[executor.LabelConfigHash],
		PlanDigest:   l[executor.LabelPlanDigest],
		ConfigFields: l[executor.LabelConfigFields],
		LimitsDrift:  b.limitsDrift(role, l[LabelLimits]),
	}
}

// maxFile bounds what readFile reads: CA files are a few KiB.
const maxFile = 1 << 20

func (b *Backend) readFile(ctx context.Context, id, path string) ([]byte, error) {
	return ReadFile(ctx, b.eng, id, path)
}

// ReadFile returns the content of the regular file path in container id
// (at most 1 MiB), or nil when it does not exist. It works on stopped
// containers too.
func ReadFile(ctx context.Context, eng Engine, id, path string) ([]byte, error) {
	rc, _, err := eng.CopyFromContainer(ctx, id, path)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s from container %s: %w", path, id, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s from container %s: %w", path, id, err)
		}
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(io.LimitReader(tr, maxFile))
			if err != nil {
				return nil, fmt.Errorf("read %s from container %s: %w", path, id, err)
			}
			return data, nil
		}
	}
}

// ReadCA reads the CA certificate and key from the bundle container, in
// memory.
func (b *Backend) ReadCA(ctx context.Context, bundle executor.Resource) (*executor.CA, error) {
	if bundle.Role != executor.RoleBundle {
		return nil, fmt.Errorf("%s %q holds no CA key", bundle.Role, bundle.Name)
	}
	cert, err := b.readFile(ctx, bundle.ID, plan.BundleCAFile)
	if err != nil {
		return nil, err
	}
	key, err := b.readFile(ctx, bundle.ID, plan.BundleCAKeyFile)
	if err != nil {
		return nil, err
	}
	if executor.Fingerprint(cert) == "" || len(key) == 0 {
		return nil, fmt.Errorf("bundle %q has no complete CA; run apply again to replace it", bundle.Name)
	}
	return &executor.CA{CertPEM: cert, KeyPEM: key}, nil
}
