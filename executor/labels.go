package executor

// Labels are the executor's only state: every live resource bottleplan
// creates carries all five, and nothing without LabelProject is ever read
// as ours, changed or removed. There is no state file to lose or to leak.
//
// Values never hold secrets: project and instance are names from the plan,
// role is one of the Role constants, the hashes are "sha256:<hex>" digests
// of plan fields. Backends may add labels of their own (the docker
// backend's CA fingerprint and CA domains, LabelConfigFields); the same
// rule holds.
const (
	// LabelProject is the plan's project name. Observe selects by it;
	// Diff, Apply and destroy touch only resources that carry it with the
	// plan's project as value.
	LabelProject = "io.bottleplan.project"
	// LabelInstance is the instance slug (the agent name) the resource
	// belongs to, or SharedInstance ("") on a resource the project's
	// instances share (the egress network, egress.go). Resources of slugs
	// the plan does not name are orphans.
	LabelInstance = "io.bottleplan.instance"
	// LabelRole says what the resource is within its instance: one of the
	// Role constants.
	LabelRole = "io.bottleplan.role"
	// LabelConfigHash is the plan's config_hash for the resource's kind
	// (network, bundle or agent) at creation. A mismatch with the current
	// plan means the resource must be replaced.
	LabelConfigHash = "io.bottleplan.config-hash"
	// LabelPlanDigest is the plan_digest of the plan that created the
	// resource. It is informational (which reviewed plan made this); it
	// never forces a change by itself, so re-planning an unchanged
	// manifest does not churn live resources.
	LabelPlanDigest = "io.bottleplan.plan-digest"
)

// Role is the value of LabelRole.
type Role string

// Roles, in creation order within an instance. Deletion runs in reverse.
const (
	// RoleNetworkInternal is the instance's internal network: pinned
	// subnet and gateway, no route out; the agent's only network.
	RoleNetworkInternal Role = "network-internal"
	// RoleNetworkEgress is the plain bridge only bundles join, their way
	// out: one per project (egress.go), absent when no instance has an
	// EgressName. One with an instance's slug was made from a plan of
	// before it was shared, and Diff deletes it.
	RoleNetworkEgress Role = "network-egress"
	// RoleBundle is the sidecar container at bundle_ip.
	RoleBundle Role = "bundle"
	// RoleAgent is the agent (a container at agent_ip on docker).
	RoleAgent Role = "agent"
	// RoleProbe is the short-lived container `verify` runs at probe_ip.
	// It is never planned, so it is not in the creation order, and Diff
	// deletes one an interrupted verify left behind.
	RoleProbe Role = "probe"
)

// roleOrder is the creation order; deletion is its reverse.
var roleOrder = []Role{RoleNetworkInternal, RoleNetworkEgress, RoleBundle, RoleAgent}

// rank returns r's position in the creation order (len(roleOrder) for an
// unknown role, so unknown resources are deleted first).
func (r Role) rank() int {
	for i, o := range roleOrder {
		if o == r {
			return i
		}
	}
	return len(roleOrder)
}

// IsNetwork reports whether r is one of the network roles.
func (r Role) IsNetwork() bool { return r == RoleNetworkInternal || r == RoleNetworkEgress }

// Labels returns the five labels for a resource of role in instance slug
// created from a plan with the given project and digest.
func Labels(project, slug string, role Role, configHash, planDigest string) map[string]string {
	return map[string]string{
		LabelProject:    project,
		LabelInstance:   slug,
		LabelRole:       string(role),
		LabelConfigHash: configHash,
		LabelPlanDigest: planDigest,
	}
}
