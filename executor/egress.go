package executor

import (
	"fmt"

	"github.com/bottleplan/bottleplan/plan"
)

// The project's egress network.
//
// Bundles reach the outside through one plain bridge per project
// (plan.EgressNetworkName), not one per instance: a daemon with the
// default address pools has room for about 30 networks from them, and
// every internal network has a pinned subnet outside the pools, so the
// pools bound the host at 30 instances when each instance takes one.
// Shared, the bridge has traffic between its containers off (the docker
// backend sets com.docker.network.bridge.enable_icc=false), so no bundle
// reaches another through it; each bundle still sees only its own
// instance's internal network.
//
// It is a resource of the project, not of an instance: it carries
// LabelInstance with the empty value (no slug is empty), Diff puts its
// ops in Changes.Shared, Apply creates it before any bundle joins it and
// removes it after every bundle on it is gone, and it goes with the last
// instance of the project (destroy, or apply --prune of the last one).
//
// Plans made before it was shared name an egress network of the
// instance's own ("<project>-<slug>-egress"). They keep working: the
// executor reads a non-empty EgressName as "this instance's bundle joins
// the project's egress network" (EgressNetwork), so applying such a plan
// deletes the per-instance network and replaces only the bundle, which
// moves to the shared one with its CA; the internal network and the
// agent are kept.

// SharedInstance is the LabelInstance value of a resource the project's
// instances share.
const SharedInstance = ""

// EgressNetwork returns the name of the egress network the bundle of in
// joins in project, or "" when its backend has none.
func EgressNetwork(project string, in *plan.Instance) string {
	if in.Network.EgressName == "" {
		return ""
	}
	return plan.EgressNetworkName(project)
}

// egressHashInput is what the egress network is made of; its digest is
// the network's LabelConfigHash. The plan has no hash for it (it is no
// instance's), and nothing in the plan changes it but the project name,
// which is its name.
type egressHashInput struct {
	Resource string `json:"resource"`
	V        int    `json:"v"`
	Name     string `json:"name"`
	// InterContainer is false: containers on it cannot reach each other.
	InterContainer bool `json:"inter_container"`
}

// EgressConfigHash is the LabelConfigHash of the egress network name.
func EgressConfigHash(name string) string {
	d, err := plan.CanonicalDigest(egressHashInput{Resource: "network-egress", V: 1, Name: name})
	if err != nil {
		panic(fmt.Sprintf("executor: hashing plain data: %v", err))
	}
	return d
}

// EgressLabels returns the labels of the project's egress network name,
// created from the plan with digest planDigest.
func EgressLabels(project, name, planDigest string) map[string]string {
	return Labels(project, SharedInstance, RoleNetworkEgress, EgressConfigHash(name), planDigest)
}

// takeShared removes from live (resources by instance) the project's
// shared resources and returns them: the networks of role
// RoleNetworkEgress without an instance. Anything else without an
// instance (a container some tool labelled with the project alone) stays
// in live under SharedInstance and is treated as an orphan, as before
// the egress network was shared: listed, removed by --prune or destroy.
func takeShared(live map[string][]Resource) []Resource {
	var shared, rest []Resource
	for _, r := range live[SharedInstance] {
		if r.Role == RoleNetworkEgress {
			shared = append(shared, r)
		} else {
			rest = append(rest, r)
		}
	}
	if len(rest) > 0 {
		live[SharedInstance] = rest
	} else {
		delete(live, SharedInstance)
	}
	return shared
}

// plannedEgress returns the project's egress network name when an
// instance of p needs it, else "".
func plannedEgress(p *plan.Plan) string {
	for i := range p.Instances {
		if n := EgressNetwork(p.Project, &p.Instances[i]); n != "" {
			return n
		}
	}
	return ""
}

// diffShared returns the ops on the project's shared resources: the
// egress network name ("" when no planned instance needs it). With keep
// (instances the plan does not name are left alone and may use it), a
// network no planned instance needs stays. remade reports that the
// network is created or replaced, so a live bundle cannot still be on
// it.
func diffShared(name string, rs []Resource, keep bool) (ops []Op, remade bool) {
	var found *Resource
	for i := range rs {
		r := &rs[i]
		switch {
		case name != "" && r.Role == RoleNetworkEgress && r.Name == name && found == nil:
			found = r
		case name == "" && keep:
		case name == "":
			ops = append(ops, Op{Kind: Delete, Instance: SharedInstance, Role: r.Role, Name: r.Name, Cause: "delete: no instance of the project uses it any more", Old: r})
		default:
			ops = append(ops, Op{Kind: Delete, Instance: SharedInstance, Role: r.Role, Name: r.Name, Cause: fmt.Sprintf("delete: the project's egress network is %q", name), Old: r})
		}
	}
	if name == "" {
		return ops, false
	}
	switch {
	case found == nil:
		ops = append(ops, Op{Kind: Create, Instance: SharedInstance, Role: RoleNetworkEgress, Name: name, Cause: "create: not found"})
	case found.ConfigHash != EgressConfigHash(name):
		ops = append(ops, Op{Kind: Replace, Instance: SharedInstance, Role: RoleNetworkEgress, Name: name, Cause: "replace: config hash changed (egress network)", Old: found})
	case found.Internal:
		ops = append(ops, Op{Kind: Replace, Instance: SharedInstance, Role: RoleNetworkEgress, Name: name, Cause: "replace: egress network is internal", Old: found})
	default:
		return ops, false
	}
	return ops, true
}

// onlyEgressNameChanged reports whether the parts of an internal
// network's config that changed (changedFields) can be only the egress
// network's name. Diff found the network under its planned internal
// name, so a changed "internal_name" part can only mean the live label
// predates it: labels written before the hash inputs became
// plan.ConfigParts had one "names" part for both names. The egress name
// is no property of the internal network (a plan from before the egress
// network was shared names one per instance), so such a network is kept.
func onlyEgressNameChanged(fields []string) bool {
	if len(fields) == 0 {
		return false
	}
	for _, f := range fields {
		switch f {
		case "egress_name", "internal_name", "names":
		default:
			return false
		}
	}
	return true
}
