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
func Apply(ctx context.Context, b Backend, p *plan.Plan, ch *Changes, opts ApplyOptions) error {
	if ch.Empty() {
		return nil
	}
	if err := b.Prepare(ctx, p, ch); err != nil {
		return err
	}
	par := opts.Parallelism
	if par <= 0 {
		par = DefaultParallelism
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
	var (
		mu      sync.Mutex // serializes OnStep and guards stopErr
		stopErr error
		errs    = make([]error, len(ch.Instances))
		wg      sync.WaitGroup
		sem     = make(chan struct{}, par)
	)
	stepper := func(op Op) StepFunc {
		return func(step string) error {
			mu.Lock()
			defer mu.Unlock()
			if stopErr != nil {
				return stopErr
			}
			if opts.OnStep == nil {
				return nil
			}
			if err := opts.OnStep(Event{Instance: op.Instance, Role: op.Role, Name: op.Name, Step: step}); err != nil {
				stopErr = err
				cancel()
				return err
			}
			return nil
		}
	}
	for i, ic := range ch.Instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = fmt.Errorf("instance %q: %w", ic.Slug, ctx.Err())
				return
			}
			defer func() { <-sem }()
			r := instanceRun{b: b, p: p, in: instances[ic.Slug], ic: ic, secrets: opts.Secrets[ic.Slug], step: stepper, now: now}
			if err := r.run(ctx); err != nil {
				errs[i] = fmt.Errorf("instance %q: %w", ic.Slug, err)
			}
		}()
	}
	wg.Wait()
	if stopErr != nil {
		return stopErr
	}
	return errors.Join(errs...)
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
}

func (r instanceRun) run(ctx context.Context) error {
	var ca *CA
	switch r.ic.CA {
	case CAReuse:
		c, err := r.b.ReadCA(ctx, *r.ic.CAFrom)
		if err != nil {
			return fmt.Errorf("read the instance CA from bundle %q: %w", r.ic.CAFrom.Name, err)
		}
		ca = c
	case CAGenerate:
		if r.in == nil {
			return fmt.Errorf("instance is not in the plan; no route hosts to make its CA for")
		}
		c, err := InstanceCA(r.p.Project, r.in, r.now())
		if err != nil {
			return err
		}
		ca = c
	}

	removals := opsOf(r.ic.Ops, Delete, Replace)
	sort.SliceStable(removals, func(i, j int) bool { return removals[i].Role.rank() > removals[j].Role.rank() })
	for _, op := range removals {
		if err := r.b.Remove(ctx, *op.Old, r.step(op)); err != nil {
			return fmt.Errorf("remove %s %q: %w", op.Role, op.Old.Name, err)
		}
	}
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
		req := CreateRequest{Project: r.p.Project, PlanDigest: r.p.PlanDigest, Instance: r.in, Role: op.Role, Step: r.step(op)}
		switch op.Role {
		case RoleBundle:
			req.CA, req.Env, req.SSHKeys = ca, r.secrets.Bundle, r.secrets.SSHKeys
		case RoleAgent:
			req.CA, req.Env = ca, r.secrets.Agent
		}
		if !op.Role.IsNetwork() && ca == nil {
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
