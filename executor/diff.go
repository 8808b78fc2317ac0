package executor

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/bottleplan/bottleplan/plan"
)

// DiffOptions change what Diff does with live state the plan does not
// name.
type DiffOptions struct {
	// Prune deletes orphans (instances of the project the plan does not
	// name) instead of listing them.
	Prune bool
	// Replace names instances (slugs) whose bundle and agent are
	// replaced even when nothing about them changed, as terraform's
	// -replace does: the way to roll out what Diff cannot see.
	Replace []string
}

// Diff compares the plan with observed state and returns the ops that
// make the live state match the plan, each with its cause. It is pure:
// same inputs, same ops, no I/O. It fails when an instance's subnet
// overlaps a network bottleplan does not own (see CheckSubnets).
//
// Rules, per planned instance:
//   - a replace for a changed config hash names the parts of the plan
//     that changed when the resource carries LabelConfigFields.
//   - the internal network: created when missing; replaced when its
//     config hash, subnet, gateway or internal flag differ (a hash that
//     moved only with the egress network's name is kept: see
//     onlyEgressNameChanged).
//   - a live egress network of the instance's own (made from a plan of
//     before the project's egress network was shared) is deleted; the
//     bundle moves to the project's (egress.go).
//   - containers: created when missing; replaced when a network of the
//     instance is (re)created, when their config hash differs, when they
//     were never started (an apply was interrupted), when their addresses
//     or networks differ from the plan, (agent) when it trusts another
//     CA than its bundle or its agent.image reference now names another
//     image than the one it runs (Observed.Images), when the backend
//     reports it was made with other limits (Resource.LimitsDrift), or when
//     opts.Replace names the instance; started ("~") when they merely
//     stopped.
//   - the instance CA: kept (CAReuse) while the live bundle's CA name
//     constraints cover every route host of the plan; otherwise a new
//     one is made (CAGenerate) and the bundle and the agent that trusts
//     the old one are replaced, the cause naming the host outside it
//     (or a CA without constraints, made by an older bottleplan).
//   - live resources of the instance's slug with a role the plan does not
//     use, or a name other than the planned one, are deleted.
//   - runtime grants (Observed.Grants) of a bundle that stays, for a
//     host and port no route of the plan covers, are revoked ("~"), one
//     op per grant; a replaced bundle loses its grants anyway.
//
// Instances the plan does not name are orphans: listed, or deleted with
// Prune.
//
// The project's egress network (egress.go) is created when a planned
// instance needs it and missing, replaced when its hash differs or it is
// internal (and every bundle with it), and deleted when no instance of
// the project is left to use it; its ops are Changes.Shared.
//
// What Diff cannot see, by design: secret values (they are recorded
// nowhere, so a changed host token does not recreate anything), the
// bundle image (it changes with the bottleplan binary), and the build
// context of a dockerfile agent beyond the Dockerfile itself. To roll
// those out, name the instance in opts.Replace (apply --replace).
func Diff(p *plan.Plan, obs *Observed, opts DiffOptions) (*Changes, error) {
	if err := CheckSubnets(p, obs); err != nil {
		return nil, err
	}
	ch := &Changes{Project: p.Project}
	live := byInstance(obs.Resources)
	shared := takeShared(live)
	planned := map[string]bool{}
	for i := range p.Instances {
		planned[p.Instances[i].Slug] = true
	}
	orphansKept := false
	for slug := range live {
		orphansKept = orphansKept || !opts.Prune && !planned[slug]
	}
	var egressRemade bool
	ch.Shared, egressRemade = diffShared(plannedEgress(p), shared, orphansKept)
	forced := map[string]bool{}
	for _, slug := range opts.Replace {
		if !planned[slug] {
			return nil, fmt.Errorf("--replace %q: the plan has no instance of that name; bottleplan show lists them", slug)
		}
		forced[slug] = true
	}
	for i := range p.Instances {
		in := &p.Instances[i]
		ic := diffInstance(p.Project, in, live[in.Slug], obs.Images, forced[in.Slug], egressRemade)
		ic.Ops = append(ic.Ops, diffGrants(in, obs.Grants[in.Slug], ic.Ops, liveBundle(in, live[in.Slug]))...)
		if len(ic.Ops) > 0 {
			ch.Instances = append(ch.Instances, ic)
		}
	}
	for _, slug := range slices.Sorted(maps.Keys(live)) {
		if planned[slug] {
			continue
		}
		if !opts.Prune {
			ch.Orphans = append(ch.Orphans, slug)
			ch.OrphanResources = append(ch.OrphanResources, live[slug]...)
			continue
		}
		ch.Instances = append(ch.Instances, deleteAll(slug, live[slug], "delete: no longer in plan"))
	}
	sort.Slice(ch.Instances, func(i, j int) bool { return ch.Instances[i].Slug < ch.Instances[j].Slug })
	return ch, nil
}

// DiffDestroy returns the ops that remove every live resource of the
// project, or of one instance when slug is not "". It ignores the plan's
// content on purpose: destroy removes what the project owns, including
// orphans.
func DiffDestroy(obs *Observed, slug string) *Changes {
	ch := &Changes{Project: obs.Project}
	live := byInstance(obs.Resources)
	shared := takeShared(live)
	others := false
	for _, s := range slices.Sorted(maps.Keys(live)) {
		if slug != "" && s != slug {
			others = true
			continue
		}
		ch.Instances = append(ch.Instances, deleteAll(s, live[s], "delete: destroy requested"))
	}
	if !others {
		// The last instance goes: what the instances shared goes with it.
		ch.Shared = deleteAll(SharedInstance, shared, "delete: destroy requested").Ops
	}
	return ch
}

func deleteAll(slug string, rs []Resource, cause string) InstanceChanges {
	ic := InstanceChanges{Slug: slug}
	for i := range rs {
		ic.Ops = append(ic.Ops, Op{Kind: Delete, Instance: slug, Role: rs[i].Role, Name: rs[i].Name, Cause: cause, Old: &rs[i]})
	}
	return ic
}

// liveBundle is the live bundle of in under its planned name, or nil.
func liveBundle(in *plan.Instance, rs []Resource) *Resource {
	for i := range rs {
		if rs[i].Role == RoleBundle && rs[i].Name == in.Bundle.ContainerName {
			return &rs[i]
		}
	}
	return nil
}

// want is one resource the plan asks for.
type want struct {
	role Role
	name string
	hash string
	what string // the config_hash key, for causes
}

func wants(in *plan.Instance) []want {
	// The egress network is the project's (diffShared), not the
	// instance's.
	ws := []want{{RoleNetworkInternal, in.Network.InternalName, in.ConfigHash.Network, "network"}}
	agent := in.Agent.ContainerName
	if agent == "" {
		agent = in.Agent.MachineName // smolmachines: the agent is a machine
	}
	ws = append(ws,
		want{RoleBundle, in.Bundle.ContainerName, in.ConfigHash.Bundle, "bundle"},
		want{RoleAgent, agent, in.ConfigHash.Agent, "agent"})
	return ws
}

// diffInstance returns the ops of planned instance in of project, whose
// live resources are rs. egressRemade says the project's egress network
// is created or replaced, so a live bundle must be made again on it.
func diffInstance(project string, in *plan.Instance, rs []Resource, images map[string]string, forced, egressRemade bool) InstanceChanges {
	ic := InstanceChanges{Slug: in.Slug}
	found := map[Role]*Resource{}
	ws := wants(in)
	wanted := map[Role]string{}
	for _, w := range ws {
		wanted[w.role] = w.name
	}
	// Live resources the plan does not ask for go first; Apply orders
	// removals by role anyway.
	for i := range rs {
		r := &rs[i]
		name, ok := wanted[r.Role]
		switch {
		case r.Role == RoleNetworkEgress:
			ic.Ops = append(ic.Ops, Op{Kind: Delete, Instance: in.Slug, Role: r.Role, Name: r.Name, Cause: fmt.Sprintf("delete: the project's bundles share egress network %q now", plan.EgressNetworkName(project)), Old: r})
		case !ok:
			ic.Ops = append(ic.Ops, Op{Kind: Delete, Instance: in.Slug, Role: r.Role, Name: r.Name, Cause: fmt.Sprintf("delete: role %q is not in the plan", r.Role), Old: r})
		case r.Name != name || found[r.Role] != nil:
			ic.Ops = append(ic.Ops, Op{Kind: Delete, Instance: in.Slug, Role: r.Role, Name: r.Name, Cause: fmt.Sprintf("delete: the plan names this %s %q", r.Role, name), Old: r})
		default:
			found[r.Role] = r
		}
	}

	netRecreated := false
	bundle := found[RoleBundle]
	caWhy := newCAReason(in, bundle)
	containerMade := false
	for _, w := range ws {
		old := found[w.role]
		kind, cause := Kind(""), ""
		switch {
		case old == nil:
			kind, cause = Create, "create: not found"
		case old.ConfigHash != w.hash && !(w.role == RoleNetworkInternal && onlyEgressNameChanged(changedFields(old.ConfigFields, ConfigFields(in, w.role)))):
			kind, cause = Replace, fmt.Sprintf("replace: config hash changed (%s)", w.what)
			if fs := changedFields(old.ConfigFields, ConfigFields(in, w.role)); len(fs) > 0 {
				cause = fmt.Sprintf("replace: config hash changed (%s: %s)", w.what, strings.Join(fs, ", "))
			}
		case w.role.IsNetwork():
			kind, cause = diffNetwork(in, old)
		case netRecreated:
			kind, cause = Replace, "replace: network recreated"
		default:
			kind, cause = diffContainer(project, in, w.role, old, bundle, caWhy, images)
			if w.role == RoleBundle && egressRemade && (kind == "" || kind == Update) {
				kind, cause = Replace, "replace: egress network recreated"
			}
		}
		if w.role == RoleBundle && kind == Replace && caWhy != "" && !strings.Contains(cause, caWhy) {
			// Replaced for another reason; say the CA is new too.
			cause = fmt.Sprintf("%s; new instance CA (%s)", cause, caWhy)
		}
		if forced && !w.role.IsNetwork() && (kind == "" || kind == Update) {
			kind, cause = Replace, "replace: asked for with --replace"
		}
		if kind == "" {
			continue
		}
		if w.role.IsNetwork() {
			netRecreated = true
		} else if kind != Update {
			containerMade = true
		}
		name := w.name
		if kind == Update {
			name = old.Name
		}
		ic.Ops = append(ic.Ops, Op{Kind: kind, Instance: in.Slug, Role: w.role, Name: name, Cause: cause, Old: old})
	}
	sortOps(ic.Ops)
	if containerMade {
		if caWhy != "" {
			ic.CA = CAGenerate
		} else {
			ic.CA, ic.CAFrom = CAReuse, bundle
		}
	}
	return ic
}

// newCAReason says why the instance needs a new CA rather than the one
// its live bundle holds, or "" when that one is kept. A CA's name
// constraints permit only the route hosts it was made for, so it is kept
// while it covers every route host of the plan (removing a route keeps
// it) and replaced when a host falls outside it; a CA without
// constraints (made by an older bottleplan) is replaced once, so every
// live CA is constrained. A supervised instance's CA permits every DNS
// name (InstanceCA): it is kept while supervise stays on, whatever the
// routes, and replaced by a narrow one when supervise goes off.
func newCAReason(in *plan.Instance, bundle *Resource) string {
	switch {
	case bundle == nil, bundle.CAFingerprint == "":
		return "the bundle had none"
	case bundle.CADomains == nil:
		return "the bundle's CA has no name constraints"
	}
	supervised := in.Bundle.Supervise != nil
	anyName := slices.Equal(bundle.CADomains, []string{AnyDNSName})
	switch {
	case supervised && !anyName:
		return "supervise is on: the CA must certify hosts the operator grants at runtime"
	case supervised:
		return ""
	case anyName:
		return "supervise is off: the CA is narrowed to the route hosts"
	}
	if h := Uncovered(bundle.CADomains, RouteHosts(in)); h != "" {
		return fmt.Sprintf("route host %s is outside the bundle's CA name constraints", h)
	}
	return ""
}

// diffNetwork checks a live internal network of the right name and hash
// against the plan's addresses.
func diffNetwork(in *plan.Instance, old *Resource) (Kind, string) {
	switch {
	case old.Subnet != in.Network.Subnet:
		return Replace, fmt.Sprintf("replace: subnet drifted (live %s, plan %s)", orNone(old.Subnet), in.Network.Subnet)
	case old.Gateway != in.Network.Gateway:
		return Replace, fmt.Sprintf("replace: gateway drifted (live %s, plan %s)", orNone(old.Gateway), in.Network.Gateway)
	case !old.Internal && in.Backend != plan.BackendSmolmachines:
		return Replace, "replace: network is not internal"
	case old.Internal && in.Backend == plan.BackendSmolmachines:
		// The machine reaches its bundle through the host, and the bundle
		// egresses through this bridge: it must be a plain one.
		return Replace, "replace: a smolmachines bundle's bridge is internal"
	}
	return "", ""
}

// diffContainer checks a live container of the right name and hash.
// caWhy is why the instance gets a new CA ("" when the bundle's is kept).
func diffContainer(project string, in *plan.Instance, role Role, old, bundle *Resource, caWhy string, images map[string]string) (Kind, string) {
	switch old.State {
	case "created":
		return Replace, "replace: never started (an earlier apply stopped half way)"
	case "running", "exited":
	default:
		// paused, restarting (crash loop), dead, removing: starting it
		// would not help; a fresh one might.
		return Replace, fmt.Sprintf("replace: container is %s", orNone(old.State))
	}
	if old.LimitsDrift != "" {
		return Replace, "replace: " + old.LimitsDrift
	}
	wantNets := map[string]string{in.Network.InternalName: in.Network.BundleIP}
	egress := EgressNetwork(project, in)
	if role == RoleAgent {
		wantNets = map[string]string{in.Network.InternalName: in.Network.AgentIP}
	} else if egress != "" {
		wantNets[egress] = "" // any address
		if _, on := old.Addresses[egress]; !on && old.Addresses != nil {
			return Replace, fmt.Sprintf("replace: moves to the project's egress network %q", egress)
		}
	}
	if old.Addresses != nil {
		// nil: the backend does not attach this resource to networks
		// (a smolvm machine), so there is nothing to compare.
		if c := diffAddresses(wantNets, old.Addresses); c != "" {
			return Replace, c
		}
	}
	switch role {
	case RoleBundle:
		if old.CAFingerprint == "" {
			return Replace, "replace: no instance CA (an earlier apply stopped half way)"
		}
		if caWhy != "" {
			return Replace, fmt.Sprintf("replace: new instance CA (%s)", caWhy)
		}
	case RoleAgent:
		if caWhy != "" {
			return Replace, fmt.Sprintf("replace: instance CA regenerated (%s)", caWhy)
		}
		if old.CAFingerprint != bundle.CAFingerprint {
			return Replace, "replace: trusts a different CA than its bundle"
		}
		// A smolmachines agent runs a pack of the image, not the image.
		if id := images[in.Agent.Image]; in.Backend == plan.BackendDocker && in.Agent.Image != "" && id != "" && old.ImageID != "" && id != old.ImageID {
			return Replace, fmt.Sprintf("replace: image %s now names %s (the container runs %s)", in.Agent.Image, shortID(id), shortID(old.ImageID))
		}
	}
	if !old.Running() {
		return Update, fmt.Sprintf("update: not running (%s, exit code %d); start it", orNone(old.State), old.ExitCode)
	}
	return "", ""
}

// shortID is an image ID cut to docker's 12 hex digits.
func shortID(id string) string {
	hex := strings.TrimPrefix(id, "sha256:")
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return hex
}

// diffAddresses compares the networks a container is on with the plan's:
// same set of networks, pinned addresses where the plan pins one.
func diffAddresses(want, live map[string]string) string {
	for _, n := range slices.Sorted(maps.Keys(want)) {
		ip, ok := live[n]
		switch {
		case !ok:
			return fmt.Sprintf("replace: not attached to network %q", n)
		case want[n] != "" && ip != want[n]:
			return fmt.Sprintf("replace: address drifted on %q (live %s, plan %s)", n, orNone(ip), want[n])
		}
	}
	for _, n := range slices.Sorted(maps.Keys(live)) {
		if _, ok := want[n]; !ok {
			return fmt.Sprintf("replace: attached to network %q outside the plan", n)
		}
	}
	return ""
}

// sortOps orders ops by role creation order, then name.
func sortOps(ops []Op) {
	sort.SliceStable(ops, func(i, j int) bool {
		if ops[i].Role.rank() != ops[j].Role.rank() {
			return ops[i].Role.rank() < ops[j].Role.rank()
		}
		return ops[i].Name < ops[j].Name
	})
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
