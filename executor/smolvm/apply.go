package smolvm

import (
	"context"
	"errors"
	"fmt"
)

// Action is what Apply does to one machine.
type Action int

const (
	// ActionNone: the machine exists, is owned, matches the config hash
	// and passes verification.
	ActionNone Action = iota
	// ActionCreate: no machine of that name exists.
	ActionCreate
	// ActionReplace: the machine exists but must be recreated.
	ActionReplace
)

func (a Action) String() string {
	switch a {
	case ActionNone:
		return "none"
	case ActionCreate:
		return "create"
	case ActionReplace:
		return "replace"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Decision is an Action with its cause.
type Decision struct {
	Action Action
	// Reason says why, in words a reviewer reads ("config hash changed").
	Reason string
}

// Decide is the pure choice for spec s given the listed machine m (nil
// when there is none). A machine of that name without the project's
// labels is an error: bottleplan never touches it.
func Decide(sp Spelling, s Spec, m *Machine) (Decision, error) {
	if m == nil {
		return Decision{ActionCreate, "machine does not exist"}, nil
	}
	if !m.Owned(s.Project) {
		return Decision{}, fmt.Errorf("a machine named %q exists without project %q's labels: bottleplan will not touch it; rename the project or delete the machine", s.Name, s.Project)
	}
	if m.Labels[LabelConfigHash] != s.ConfigHash {
		return Decision{ActionReplace, "config hash changed"}, nil
	}
	if !m.running(sp) {
		return Decision{ActionReplace, fmt.Sprintf("not running (%s): the agent and its secrets do not survive a restart", m.State)}, nil
	}
	if !m.Launched {
		return Decision{ActionReplace, "agent never launched (an earlier apply stopped half way)"}, nil
	}
	if err := verifyMachine(sp, s, *m); err != nil {
		return Decision{ActionReplace, "failed verification: " + err.Error()}, nil
	}
	return Decision{ActionNone, "in sync"}, nil
}

// probe returns the listed machine of s (nil when there is none), with
// Launched filled in when it is the project's and running.
func (b *Backend) probe(ctx context.Context, ms []Machine, s Spec) *Machine {
	m, ok := find(ms, s.Name)
	if !ok {
		return nil
	}
	if m.Owned(s.Project) && m.running(b.sp) {
		m.Launched = b.launched(ctx, m.Name)
	}
	return &m
}

// commandsFor lists the commands Apply runs for decision d, in order.
// The readiness probe appears once; Apply repeats it until ready.
func commandsFor(sp Spelling, cacheDir string, s Spec, m *Machine, d Decision, packed bool) []Command {
	var cs []Command
	if d.Action == ActionNone {
		return nil
	}
	if d.Action == ActionReplace && m != nil {
		if m.running(sp) {
			cs = append(cs, stopCmd(sp, m.Name))
		}
		cs = append(cs, deleteCmd(sp, m.Name))
	}
	source := s.Image.Ref
	if sp.PackFromVM != "" {
		if !packed {
			cs = append(cs, packCmds(sp, cacheDir, s.Image)...)
		}
		source = sidecarPath(sp, cacheDir, s.Image.Digest)
	}
	cs = append(cs,
		createCmd(sp, s, source),
		startCmd(sp, s.Name),
		readyCmd(sp, s.Name),
		lsCmd(sp),
	)
	cs = append(cs, egressCheckCmds(sp, s.Name, "<probe binary>", "<egress probes>")...)
	for i, f := range s.Files {
		cs = append(cs, cpCmd(sp, s.Name, fileStaging(cacheDir, s.Name, i), f.Path, f.Mode))
	}
	return append(cs, launchCmd(sp, s), cpCmd(sp, s.Name, markerStaging(cacheDir, s.Name), LaunchedMarker, 0o444))
}

// DryRun observes (read-only) and returns the decision and the exact
// commands Apply would run for s. Render them with Command.Render: secret
// values show as placeholders.
func (b *Backend) DryRun(ctx context.Context, s Spec) (Decision, []Command, error) {
	if err := checkSecrets(b.sp, s); err != nil {
		return Decision{}, nil, err
	}
	ms, err := b.List(ctx)
	if err != nil {
		return Decision{}, nil, err
	}
	mp := b.probe(ctx, ms, s)
	d, err := Decide(b.sp, s, mp)
	if err != nil {
		return Decision{}, nil, err
	}
	return d, commandsFor(b.sp, b.r.CacheDir, s, mp, d, b.packed(s.Image.Digest)), nil
}

// Apply converges the machine of s: nothing when it is in sync, else
// (after removing a stale one) pack, create, start, wait until ready,
// verify networking and the allow list, write the guest files, and launch
// the agent with its secrets. values maps each secret's guest NAME to its value.
//
// A failure after create rolls the machine back (stop, delete), so no
// half-configured machine is left and a rerun starts clean; the error
// then reports the rollback's outcome too.
func (b *Backend) Apply(ctx context.Context, s Spec, values map[string]string) (Decision, error) {
	if err := checkSecrets(b.sp, s); err != nil {
		return Decision{}, err
	}
	for _, sec := range s.Secrets {
		if _, ok := values[sec.Guest]; !ok {
			return Decision{}, fmt.Errorf("machine %q: no value for %s (%s)", s.Name, sec.Guest, sec.Placeholder())
		}
	}
	ms, err := b.List(ctx)
	if err != nil {
		return Decision{}, err
	}
	mp := b.probe(ctx, ms, s)
	d, err := Decide(b.sp, s, mp)
	if err != nil || d.Action == ActionNone {
		return d, err
	}
	if d.Action == ActionReplace {
		if err := b.destroy(ctx, s.Project, *mp); err != nil {
			return d, fmt.Errorf("replace machine %q (%s): %w", s.Name, d.Reason, err)
		}
	}
	return d, b.Provision(ctx, s, values, nil)
}

// Provision brings up the machine of s, which must not exist: pack
// (cached), create, start, wait until ready, verify, write the guest
// files and launch the agent. step, when set, is called after each step
// that changed something ("created", "started", "configured",
// "launched"); its error stops provisioning.
//
// Any failure after create, a step's error included, rolls the machine
// back (stop, delete): a machine that is running but whose agent never
// started would otherwise look in sync to the next apply. The error then
// reports the rollback's outcome too.
func (b *Backend) Provision(ctx context.Context, s Spec, values map[string]string, step func(string) error) error {
	if err := checkSecrets(b.sp, s); err != nil {
		return err
	}
	for _, sec := range s.Secrets {
		if _, ok := values[sec.Guest]; !ok {
			return fmt.Errorf("machine %q: no value for %s (%s)", s.Name, sec.Guest, sec.Placeholder())
		}
	}
	source, err := b.Pack(ctx, s.Image)
	if err != nil {
		return err
	}
	if step == nil {
		step = func(string) error { return nil }
	}
	if err := b.Create(ctx, s, source); err != nil {
		return b.rollback(ctx, s, err)
	}
	if err := b.bringUp(ctx, s, values, step); err != nil {
		return b.rollback(ctx, s, err)
	}
	return nil
}

// rollback removes the machine of s after err and reports both.
func (b *Backend) rollback(ctx context.Context, s Spec, err error) error {
	if rbErr := b.Destroy(context.WithoutCancel(ctx), s.Project, s.Name); rbErr != nil {
		return errors.Join(err, fmt.Errorf("roll back machine %q: %w; run `bottleplan destroy` to remove it", s.Name, rbErr))
	}
	return fmt.Errorf("%w (machine %q rolled back)", err, s.Name)
}

// bringUp is everything after create, each step reported.
func (b *Backend) bringUp(ctx context.Context, s Spec, values map[string]string, step func(string) error) error {
	if err := step("created"); err != nil {
		return err
	}
	if err := b.Start(ctx, s); err != nil {
		return err
	}
	if err := step("started"); err != nil {
		return err
	}
	if err := b.WaitReady(ctx, s); err != nil {
		return err
	}
	if err := b.Verify(ctx, s); err != nil {
		return err
	}
	if err := b.CheckEgress(ctx, s); err != nil {
		return err
	}
	if err := b.WriteFiles(ctx, s); err != nil {
		return err
	}
	if err := step("configured"); err != nil {
		return err
	}
	if err := b.Launch(ctx, s, values); err != nil {
		return err
	}
	if err := b.MarkLaunched(ctx, s); err != nil {
		return err
	}
	return step("launched")
}
