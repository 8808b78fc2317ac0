package executor

import (
	"context"
	"errors"

	"github.com/bottleplan/bottleplan/plan"
)

// Backend is the contract between the executor and a place bottles run
// (executor/docker, executor/smolvm). The executor decides; a backend
// reads and acts. Every method is called with resources and instances
// from one project; a backend must never read as ours, change or remove
// a resource that lacks the LabelProject label with that project.
//
// Calls Apply makes, per instance: ReadCA (when the CA is reused), Remove
// for deletes and replaces in reverse role order, then Create and Start in
// role order. Instances run concurrently, so methods must be safe for
// concurrent use on different instances.
//
// Roles per instance come from the plan: RoleNetworkInternal (the
// instance's subnet; on smolmachines the bridge the bundle sits on),
// RoleBundle, and RoleAgent (a container, or a smolvm machine). Per
// project, RoleNetworkEgress when an instance's Network.EgressName is set
// (egress.go): Create gets it with a nil Instance, before any bundle that
// joins it, and Remove after every bundle on it is gone. A resource that cannot
// carry labels (a machine) must keep the same five facts somewhere
// Observe reads them back, or Diff will see it as missing.
type Backend interface {
	// Observe reads, once and without changing anything, every resource
	// labelled with project (containers in any state and networks, with
	// the fields of Resource filled in) and every network on the host
	// with its subnets. A resource whose role label is unknown is still
	// returned, so Diff can delete it.
	Observe(ctx context.Context, project string) (*Observed, error)

	// Prepare makes everything the creates in ch need that is not a
	// labelled resource (images), or fails naming what is missing. Apply
	// calls it before the first change, so a missing image stops apply
	// before anything is created. It may be called more than once for
	// the same changes (the CLI calls it before asking for confirmation);
	// what it made the first time is reused.
	Prepare(ctx context.Context, p *plan.Plan, ch *Changes) error

	// ReadCA returns the CA held by the live bundle r (certificate and
	// key), in memory.
	ReadCA(ctx context.Context, bundle Resource) (*CA, error)

	// Create makes the resource req.Role of req.Instance, labelled with
	// Labels(...), and for containers puts their files in and starts
	// them. It calls req.Step after each step that changed something
	// (e.g. "created", "configured", "started") and stops with its error
	// when Step returns one.
	Create(ctx context.Context, req CreateRequest) error

	// Start starts the stopped container r, calling step("started").
	Start(ctx context.Context, r Resource, step StepFunc) error

	// Remove removes r (a container even when running), calling
	// step("removed"). Removing what is already gone is not an error.
	Remove(ctx context.Context, r Resource, step StepFunc) error
}

// ErrStale is wrapped by errors about an input the plan pinned by digest
// that changed since the plan was made (a Dockerfile): the plan is
// refused, as a stale manifest is, and must be made again.
var ErrStale = errors.New("plan refused: it is stale")

// ImageResolver is implemented by backends that can tell which image a
// container made now would run. ResolveImages returns, for every
// agent.image reference of p's instances that the backend runs as a
// container, the ID the reference names now, or "" when it names no
// image on this machine. It changes nothing and builds nothing.
//
// Only references the plan names are resolved: images apply builds
// itself are tagged by content (a new input is a new tag, and so a new
// config hash or plan), and the bundle image changes only with the
// bottleplan binary, which apply does not roll out unasked (apply
// --replace does).
type ImageResolver interface {
	ResolveImages(ctx context.Context, p *plan.Plan) (map[string]string, error)
}

// ObservePlan reads the live state of p's project with b.Observe; when b
// is an ImageResolver, what p's image references name now, so Diff can
// see a rebuilt or retagged agent image; and when b is a Supervisor, the
// runtime grants of each running bundle with supervise on (one call per
// such instance: an unsupervised plan pays nothing).
func ObservePlan(ctx context.Context, b Backend, p *plan.Plan) (*Observed, error) {
	obs, err := b.Observe(ctx, p.Project)
	if err != nil {
		return nil, err
	}
	if r, ok := b.(ImageResolver); ok {
		if obs.Images, err = r.ResolveImages(ctx, p); err != nil {
			return nil, err
		}
	}
	if s, ok := b.(Supervisor); ok {
		if err := observeGrants(ctx, s, p, obs); err != nil {
			return nil, err
		}
	}
	return obs, nil
}

// StepFunc reports a step a backend completed ("created", "started",
// ...). A non-nil error stops the backend before its next step; Apply
// then stops too (the fault tests use this to stop an apply anywhere).
type StepFunc func(step string) error

// CreateRequest is what Backend.Create needs for one resource.
type CreateRequest struct {
	// Project and PlanDigest are label values.
	Project    string
	PlanDigest string
	// Instance is the planned instance the resource belongs to; nil for
	// a resource the project's instances share (the egress network,
	// egress.go), which the backend labels with EgressLabels.
	Instance *plan.Instance
	// Role is the resource to create.
	Role Role
	// Name is the resource's planned name.
	Name string
	// CA is the instance CA; set for RoleBundle (certificate and key go
	// in) and RoleAgent (certificate only).
	CA *CA
	// Env are the secret variables (NAME=value) the container's process
	// gets on top of the plan's literals: host secrets for the bundle,
	// env_from_host and env_prompted values for the agent. A backend puts
	// them in the process environment only: never in labels, files,
	// argv, errors or logs.
	Env []string
	// SSHKeys are the git gate's ssh private keys by repo name (bundle
	// only); the backend puts each at plan.BundleSSHKeyDir/<repo>, mode
	// 0600, readable only by the bundle's process.
	SSHKeys map[string][]byte
	// Step is called after each completed step.
	Step StepFunc
}
