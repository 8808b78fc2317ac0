package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

// DefaultParallelism is how many instances Apply works on at once. The
// Engine serializes much of the work (network allocation above all), but
// overlapping one instance's network creation with another's container
// starts pays: 20 instances applied in 9.5 s at 16-20 against 12 s at 4
// (bench/apply.sh, 2 cores; docs/performance.md).
const DefaultParallelism = 16

// Event is one completed step, reported to ApplyOptions.OnStep.
type Event struct {
	Instance string
	Role     Role
	Name     string
	// Step is what happened: "created", "configured", "started",
	// "removed".
	Step string
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Parallelism bounds how many instances run at once
	// (DefaultParallelism when 0).
	Parallelism int
	// Secrets are the resolved secret env values per instance (see
	// ResolveSecrets).
	Secrets map[string]InstanceSecrets
	// OnStep, when set, is called after every completed step, never
	// concurrently. A non-nil error stops the apply where it is, as if the
	// process had been killed: nothing is rolled back.
	OnStep func(Event) error
	// Now is the clock for CA validity (time.Now when nil).
	Now func() time.Time
}

// Apply executes ch against b. It decides nothing: every op and the CA
// source come from Diff. Instances are independent and run in parallel;
// within an instance removals run in reverse role order (agent, bundle,
// networks), then creates and starts in role order, then Revoke ops
// revoke the bundle's runtime grants (b must be a Supervisor). The first failure of
// an instance stops that instance; other instances carry on. An error
// from OnStep stops everything. The returned error joins the failures,
// one per instance.
//
// The project's shared resources (ch.Shared: the egress network) are
// made before any instance and removed after every instance's removals:
// when one is removed, the instances' removals all run first, then the
// shared ops, then the instances' creates (a network cannot go while a
// bundle is on it, nor a bundle join one not made yet). A failed shared
// op stops the apply before any instance creates.
func Apply(ctx context.Context, b Backend, p *plan.Plan, ch *Changes, opts ApplyOptions) error {
	if ch.Empty() {
		return nil
	}
	if err := b.Prepare(ctx, p, ch); err != nil {
		return err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	instances := map[string]*plan.Instance{}
	for i := range p.Instances {
		instances[p.Instances[i].Slug] = &p.Instances[i]
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a := &applyRun{b: b, p: p, ch: ch, opts: opts, cancel: cancel}
	runs := make([]*instanceRun, len(ch.Instances))
	for i, ic := range ch.Instances {
		runs[i] = &instanceRun{b: b, p: p, in: instances[ic.Slug], ic: ic, secrets: opts.Secrets[ic.Slug], step: a.stepper, now: now}
	}
	var errs []error
	if len(opsOf(ch.Shared, Delete, Replace)) > 0 {
		a.instances(ctx, runs, (*instanceRun).remove)
		errs = a.shared(ctx, removal)
		if errs == nil {
			errs = a.shared(ctx, creation)
		}
		if errs == nil {
			a.instances(ctx, runs, (*instanceRun).create)
		}
	} else if errs = a.shared(ctx, creation); errs == nil {
		a.instances(ctx, runs, (*instanceRun).run)
	}
	if a.stopErr != nil {
		return a.stopErr
	}
	for _, r := range runs {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("instance %q: %w", r.ic.Slug, r.err))
		}
	}
	return errors.Join(errs...)
}

// applyRun is what the instances of one Apply share.
type applyRun struct {
	b      Backend
	p      *plan.Plan
	ch     *Changes
	opts   ApplyOptions
	cancel context.CancelFunc

	mu      sync.Mutex // serializes OnStep and guards stopErr
	stopErr error
}

// stepper returns the StepFunc of op: it reports each step to OnStep,
// never concurrently, and stops everything when OnStep fails.
func (a *applyRun) stepper(op Op) StepFunc {
	return func(step string) error {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.stopErr != nil {
			return a.stopErr
		}
		if a.opts.OnStep == nil {
			return nil
		}
		if err := a.opts.OnStep(Event{Instance: op.Instance, Role: op.Role, Name: op.Name, Step: step}); err != nil {
			a.stopErr = err
			a.cancel()
			return err
		}
		return nil
	}
}

// instances runs do on every run that has not failed yet, Parallelism
// at a time; a failure is kept in the run.
func (a *applyRun) instances(ctx context.Context, runs []*instanceRun, do func(*instanceRun, context.Context) error) {
	par := a.opts.Parallelism
	if par <= 0 {
		par = DefaultParallelism
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, par)
	for _, r := range runs {
		if r.err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				r.err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			r.err = do(r, ctx)
		}()
	}
	wg.Wait()
}

// phase says which of the shared ops a step of Apply runs.
type phase int

const (
	removal  phase = iota // Delete and Replace: remove the live one
	creation              // Create and Replace: make the planned one
)

// shared runs the shared ops of phase, one after the other (there is
// one shared resource); it stops at the first failure.
func (a *applyRun) shared(ctx context.Context, ph phase) []error {
	kinds := []Kind{Create, Replace}
	if ph == removal {
		kinds = []Kind{Delete, Replace}
	}
	for _, op := range opsOf(a.ch.Shared, kinds...) {
		var err error
		if ph == removal {
			if err = a.b.Remove(ctx, *op.Old, a.stepper(op)); err != nil {
				err = fmt.Errorf("remove %s %q: %w", op.Role, op.Old.Name, err)
			}
		} else {
			req := CreateRequest{Project: a.p.Project, PlanDigest: a.p.PlanDigest, Role: op.Role, Name: op.Name, Step: a.stepper(op)}
			if err = a.b.Create(ctx, req); err != nil {
				err = fmt.Errorf("create %s %q: %w", op.Role, op.Name, err)
			}
		}
		if err != nil {
			return []error{fmt.Errorf("project %q: %w", a.p.Project, err)}
		}
	}
	return nil
}

// instanceRun applies one instance's ops.
type instanceRun struct {
	b       Backend
	p       *plan.Plan
	in      *plan.Instance // nil for an orphan being pruned
	ic      InstanceChanges
	secrets InstanceSecrets
	step    func(Op) StepFunc
	now     func() time.Time

	ca  *CA   // read or made by remove, used by create
	err error // the first failure; the run does nothing more
}

// run removes, then creates.
func (r *instanceRun) run(ctx context.Context) error {
	if err := r.remove(ctx); err != nil {
		return err
	}
	return r.create(ctx)
}

// remove gets the instance CA (from the live bundle, before it goes),
// then runs the removals in reverse role order.
func (r *instanceRun) remove(ctx context.Context) error {
	switch r.ic.CA {
	case CAReuse:
		c, err := r.b.ReadCA(ctx, *r.ic.CAFrom)
		if err != nil {
			return fmt.Errorf("read the instance CA from bundle %q: %w", r.ic.CAFrom.Name, err)
		}
		r.ca = c
	case CAGenerate:
		if r.in == nil {
			return fmt.Errorf("instance is not in the plan; no route hosts to make its CA for")
		}
		c, err := InstanceCA(r.p.Project, r.in, r.now())
		if err != nil {
			return err
		}
		r.ca = c
	}

	removals := opsOf(r.ic.Ops, Delete, Replace)
	sort.SliceStable(removals, func(i, j int) bool { return removals[i].Role.rank() > removals[j].Role.rank() })
	for _, op := range removals {
		if err := r.b.Remove(ctx, *op.Old, r.step(op)); err != nil {
			return fmt.Errorf("remove %s %q: %w", op.Role, op.Old.Name, err)
		}
	}
	return nil
}

// create runs the creates and starts in role order.
func (r *instanceRun) create(ctx context.Context) error {
	for _, op := range opsOf(r.ic.Ops, Create, Replace, Update) {
		if op.Kind == Update {
			if err := r.b.Start(ctx, *op.Old, r.step(op)); err != nil {
				return fmt.Errorf("start %s %q: %w", op.Role, op.Name, err)
			}
			continue
		}
		if r.in == nil {
			return fmt.Errorf("%s %q: instance is not in the plan", op.Role, op.Name)
		}
		req := CreateRequest{Project: r.p.Project, PlanDigest: r.p.PlanDigest, Instance: r.in, Role: op.Role, Name: op.Name, Step: r.step(op)}
		switch op.Role {
		case RoleBundle:
			req.CA, req.Env, req.SSHKeys = r.ca, r.secrets.Bundle, r.secrets.SSHKeys
		case RoleAgent:
			req.CA, req.Env = r.ca, r.secrets.Agent
		}
		if !op.Role.IsNetwork() && r.ca == nil {
			return fmt.Errorf("%s %q: no instance CA (Diff left the CA source empty)", op.Role, op.Name)
		}
		if err := r.b.Create(ctx, req); err != nil {
			return fmt.Errorf("create %s %q: %w", op.Role, op.Name, err)
		}
	}
	return r.revokeGrants(ctx)
}

// revokeGrants revokes the bundle's runtime grants once when the
// instance has Revoke ops: the operator API revokes every grant at once.
func (r instanceRun) revokeGrants(ctx context.Context) error {
	ops := opsOf(r.ic.Ops, Revoke)
	if len(ops) == 0 {
		return nil
	}
	s, ok := r.b.(Supervisor)
	if !ok || r.in == nil {
		return fmt.Errorf("revoke runtime grants of bundle %q: the backend cannot reach its operator API", ops[0].Name)
	}
	n, err := s.RevokeGrants(ctx, r.in)
	if err != nil {
		return fmt.Errorf("revoke runtime grants of bundle %q: %w", ops[0].Name, err)
	}
	return r.step(ops[0])(fmt.Sprintf("runtime grants revoked (%d)", n))
}

// opsOf returns the ops of the given kinds, keeping their order.
func opsOf(ops []Op, kinds ...Kind) []Op {
	var out []Op
	for _, op := range ops {
		for _, k := range kinds {
			if op.Kind == k {
				out = append(out, op)
				break
			}
		}
	}
	return out
}
