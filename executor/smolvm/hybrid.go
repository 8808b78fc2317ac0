package smolvm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// machineIDPrefix marks the executor Resources that are smolvm machines,
// so Remove and Start route them here.
const machineIDPrefix = "smolvm:"

// ImageExporter gives the agent image of an instance as smolvm's `machine
// create --image` takes it: a `docker save` archive written under dir,
// and the image digest. The Docker backend implements it; Prepare must
// have run there first (it builds Dockerfile images).
type ImageExporter interface {
	ExportAgentImage(ctx context.Context, in *plan.Instance, dir string) (archive, digest string, err error)
}

// Hybrid is the executor.Backend of a plan with smolmachines instances:
// networks and bundles go to the Docker backend, the agents of
// smolmachines instances are smolvm machines here, and docker instances
// stay entirely on Docker.
type Hybrid struct {
	// Docker serves every resource that is not a machine.
	Docker executor.Backend
	// Images exports agent images for packing (the Docker backend).
	Images ImageExporter
	// Machines runs smolvm.
	Machines *Backend
	// Project is the plan's project; Remove touches only its machines.
	Project string
	// Roots are the host's public root certificates, appended to the
	// instance CA in the guest's CA file as the Docker agent gets them.
	Roots []byte

	mu     sync.Mutex
	images map[string]AgentImage // slug -> exported image, filled by Prepare
}

var _ executor.Backend = (*Hybrid)(nil)

// isMachine reports whether the agent of in is a smolvm machine.
func isMachine(in *plan.Instance, role executor.Role) bool {
	return in != nil && role == executor.RoleAgent && in.Backend == plan.BackendSmolmachines
}

// Observe reads the Docker side and appends the project's machines as
// agent resources: labels as on containers, no addresses (Diff then skips
// the address check), the CA fingerprint from its label. A machine that
// is not running reports its smolvm state ("stopped", ...), which Diff
// replaces: the agent's secrets do not survive a restart.
func (h *Hybrid) Observe(ctx context.Context, project string) (*executor.Observed, error) {
	obs, err := h.Docker.Observe(ctx, project)
	if err != nil {
		return nil, err
	}
	ms, err := h.Machines.Observe(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("list smolvm machines: %w", err)
	}
	for _, slug := range slices.Sorted(maps.Keys(ms)) {
		o := ms[slug]
		obs.Resources = append(obs.Resources, machineResource(o))
	}
	return obs, nil
}

// ResolveImages implements executor.ImageResolver for the docker
// instances of a mixed plan; a machine runs a pack of its image and
// reports no image ID, so Diff leaves it alone.
func (h *Hybrid) ResolveImages(ctx context.Context, p *plan.Plan) (map[string]string, error) {
	if r, ok := h.Docker.(executor.ImageResolver); ok {
		return r.ResolveImages(ctx, p)
	}
	return nil, nil
}

func machineResource(o Observed) executor.Resource {
	state := o.Machine.State
	if !o.Machine.Launched && state == "running" {
		// Running without its agent: Diff replaces a "created" resource
		// ("never started (an earlier apply stopped half way)").
		state = "created"
	}
	return executor.Resource{
		Role:          executor.Role(o.Machine.Labels[LabelRole]),
		Instance:      o.Instance,
		ConfigHash:    o.ConfigHash,
		PlanDigest:    o.PlanDigest,
		ID:            machineIDPrefix + o.Machine.Name,
		Name:          o.Machine.Name,
		State:         state,
		CAFingerprint: o.CAFingerprint,
	}
}

// Prepare runs the Docker backend's Prepare (images, including the
// agent images of smolmachines instances), then exports and packs each
// smolmachines agent that ch creates.
func (h *Hybrid) Prepare(ctx context.Context, p *plan.Plan, ch *executor.Changes) error {
	if err := h.Docker.Prepare(ctx, p, ch); err != nil {
		return err
	}
	made := map[string]bool{}
	for _, op := range ch.Ops() {
		if (op.Kind == executor.Create || op.Kind == executor.Replace) && op.Role == executor.RoleAgent {
			made[op.Instance] = true
		}
	}
	var errs []error
	for i := range p.Instances {
		in := &p.Instances[i]
		if !made[in.Slug] || !isMachine(in, executor.RoleAgent) {
			continue
		}
		h.mu.Lock()
		_, done := h.images[in.Slug]
		h.mu.Unlock()
		if done {
			continue
		}
		archive, digest, err := h.Images.ExportAgentImage(ctx, in, h.Machines.imageDir())
		if err != nil {
			errs = append(errs, fmt.Errorf("instance %q: export the agent image for smolvm: %w", in.Slug, err))
			continue
		}
		img := AgentImage{Ref: archive, Digest: digest}
		if _, err := h.Machines.Pack(ctx, img); err != nil {
			errs = append(errs, fmt.Errorf("instance %q: %w", in.Slug, err))
			continue
		}
		h.mu.Lock()
		if h.images == nil {
			h.images = map[string]AgentImage{}
		}
		h.images[in.Slug] = img
		h.mu.Unlock()
	}
	return errors.Join(errs...)
}

// ReadCA reads the CA of a bundle: bundles are Docker containers.
func (h *Hybrid) ReadCA(ctx context.Context, bundle executor.Resource) (*executor.CA, error) {
	return h.Docker.ReadCA(ctx, bundle)
}

// Create makes a machine for the agent of a smolmachines instance and
// passes everything else to Docker.
func (h *Hybrid) Create(ctx context.Context, req executor.CreateRequest) error {
	if !isMachine(req.Instance, req.Role) {
		return h.Docker.Create(ctx, req)
	}
	s, values, err := h.MachineSpec(req)
	if err != nil {
		return err
	}
	return h.Machines.Provision(ctx, s, values, req.Step)
}

// MachineSpec is the Spec and secret values of an agent create request.
func (h *Hybrid) MachineSpec(req executor.CreateRequest) (Spec, map[string]string, error) {
	in := req.Instance
	h.mu.Lock()
	img, ok := h.images[in.Slug]
	h.mu.Unlock()
	if !ok {
		return Spec{}, nil, fmt.Errorf("agent image of instance %q not prepared for smolvm", in.Slug)
	}
	if req.CA == nil {
		return Spec{}, nil, fmt.Errorf("instance %q: no instance CA for the agent", in.Slug)
	}
	s, err := SpecFor(req.Project, req.PlanDigest, *in, img)
	if err != nil {
		return Spec{}, nil, err
	}
	// The instance CA first: the Docker backend fingerprints the first
	// certificate of the same file, and so does this label.
	ca := append(append([]byte{}, req.CA.CertPEM...), h.Roots...)
	s.Files = []GuestFile{
		{Path: plan.GuestCAFile, Content: ca, Mode: 0o444},
		{Path: plan.GuestPromptFile, Content: []byte(in.Agent.Prompt), Mode: 0o444},
	}
	s.CAFingerprint = executor.Fingerprint(req.CA.CertPEM)
	values := map[string]string{}
	for _, kv := range req.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return Spec{}, nil, fmt.Errorf("instance %q: malformed secret env entry for the agent", in.Slug)
		}
		values[k] = v
	}
	return s, values, nil
}

// Start starts a stopped Docker container. A machine is never started:
// Diff replaces a machine that is not running, because its agent's
// secrets are gone.
func (h *Hybrid) Start(ctx context.Context, r executor.Resource, step executor.StepFunc) error {
	if strings.HasPrefix(r.ID, machineIDPrefix) {
		return fmt.Errorf("machine %q cannot be restarted with its agent's secrets; destroy the instance and apply again", r.Name)
	}
	return h.Docker.Start(ctx, r, step)
}

// Remove stops and deletes a machine of the project, or passes a Docker
// resource on.
func (h *Hybrid) Remove(ctx context.Context, r executor.Resource, step executor.StepFunc) error {
	if !strings.HasPrefix(r.ID, machineIDPrefix) {
		return h.Docker.Remove(ctx, r, step)
	}
	if err := h.Machines.Destroy(ctx, h.Project, r.Name); err != nil {
		return err
	}
	return step("removed")
}

// DryRun returns, per op on a smolmachines agent, the smolvm commands
// apply would run, rendered with secret placeholders. The image archive
// and its digest are not known before Prepare exports the image, so they
// show as placeholders too.
func (h *Hybrid) DryRun(p *plan.Plan, ch *executor.Changes) ([]string, error) {
	byslug := map[string]*plan.Instance{}
	for i := range p.Instances {
		byslug[p.Instances[i].Slug] = &p.Instances[i]
	}
	var lines []string
	for _, op := range ch.Ops() {
		in := byslug[op.Instance]
		if op.Role != executor.RoleAgent || (!strings.HasPrefix(idOf(op), machineIDPrefix) && !isMachine(in, op.Role)) {
			continue
		}
		if op.Old != nil && strings.HasPrefix(op.Old.ID, machineIDPrefix) && op.Kind != executor.Create {
			if op.Old.Running() {
				lines = append(lines, stopCmd(h.Machines.sp, op.Old.Name).Render())
			}
			lines = append(lines, deleteCmd(h.Machines.sp, op.Old.Name).Render())
		}
		if op.Kind != executor.Create && op.Kind != executor.Replace {
			continue
		}
		img := AgentImage{Ref: "<docker save of the agent image>", Digest: "sha256:<digest>"}
		s, err := SpecFor(p.Project, p.PlanDigest, *in, img)
		if err != nil {
			return nil, err
		}
		s.Files = []GuestFile{{Path: plan.GuestCAFile, Mode: 0o444}, {Path: plan.GuestPromptFile, Mode: 0o444}}
		s.CAFingerprint = "<instance CA fingerprint>"
		for _, c := range commandsFor(h.Machines.sp, h.Machines.r.CacheDir, s, nil, Decision{Action: ActionCreate}, false) {
			lines = append(lines, c.Render())
		}
	}
	return lines, nil
}

func idOf(op executor.Op) string {
	if op.Old == nil {
		return ""
	}
	return op.Old.ID
}
