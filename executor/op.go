package executor

import "fmt"

// Kind is what an Op does to one resource.
type Kind string

// Op kinds and their review symbols (terraform's convention).
const (
	// Create makes a resource the plan names and the host lacks ("+").
	Create Kind = "create"
	// Update changes a resource in place ("~"). The only in-place change
	// is starting a container that stopped: everything else a container
	// or network carries is immutable, and the plan's config hashes cover
	// it, so any other difference is a Replace.
	Update Kind = "update"
	// Replace removes a resource and creates it again ("-/+").
	Replace Kind = "replace"
	// Delete removes a resource the plan no longer names ("-").
	Delete Kind = "delete"
	// Revoke takes back the runtime grants of a live bundle ("~": the
	// bundle changes in place, nothing is replaced). Op.Grant names one
	// the plan's routes do not cover; Apply revokes every grant of the
	// bundle once.
	Revoke Kind = "revoke"
)

// Symbol is the review symbol of k.
func (k Kind) Symbol() string {
	switch k {
	case Create:
		return "+"
	case Update, Revoke:
		return "~"
	case Replace:
		return "-/+"
	case Delete:
		return "-"
	}
	return "?"
}

// Op is one change to one resource, with the reason for it.
type Op struct {
	Kind     Kind
	Instance string
	Role     Role
	// Name is the resource's name: the planned one for Create and
	// Replace, the live one for Update and Delete.
	Name string
	// Cause says why, starting with the kind: "create: not found",
	// "replace: config hash changed (bundle: proxy.routes)", "delete: no longer in plan".
	Cause string
	// Old is the live resource an Update, Replace, Delete or Revoke acts
	// on; nil for Create.
	Old *Resource
	// Grant is the runtime grant a Revoke names.
	Grant *Grant
}

func (o Op) String() string {
	return fmt.Sprintf("%s %s %s %s (%s)", o.Kind.Symbol(), o.Owner(), o.Role, o.Name, o.Cause)
}

// Owner is the op's instance slug, or "(project)" for a resource the
// project's instances share.
func (o Op) Owner() string { return Owner(o.Instance) }

// Owner names the owner of a resource of instance for people: the slug,
// or "(project)" for a resource the project's instances share.
func Owner(instance string) string {
	if instance == SharedInstance {
		return "(project)"
	}
	return instance
}

// CASource says where an instance's CA comes from when Apply creates a
// container that needs it.
type CASource string

const (
	// CANone: no container of the instance is created; no CA is needed.
	CANone CASource = ""
	// CAReuse: read the CA (certificate and key) from the live bundle
	// InstanceChanges.CAFrom, so an agent that trusts it keeps working.
	CAReuse CASource = "reuse"
	// CAGenerate: the live bundle has no CA (or there is none); make a
	// new one. Diff then replaces the agent too.
	CAGenerate CASource = "generate"
)

// InstanceChanges are the ops of one instance.
type InstanceChanges struct {
	Slug string
	// Ops in creation order of their roles; Apply runs removals in
	// reverse.
	Ops []Op
	// CA and CAFrom say where the CA comes from (see CASource).
	CA     CASource
	CAFrom *Resource
}

// Changes is the outcome of Diff: what Apply will do, and what it leaves.
type Changes struct {
	Project string
	// Instances with at least one op, sorted by slug.
	Instances []InstanceChanges
	// Orphans are instance slugs that carry the project label but are not
	// in the plan, left alone because pruning was not asked for; sorted.
	Orphans []string
	// OrphanResources are the orphans' live resources, for the listing.
	OrphanResources []Resource
	// Shared are the ops on resources the project's instances share
	// (the egress network, egress.go), with Instance SharedInstance.
	// Apply makes them before any instance's creates and removes them
	// after every instance's removals.
	Shared []Op
}

// Ops returns every op in the order Apply acts: the shared creates and
// replaces, the instances' ops instance by instance, the shared deletes.
func (c *Changes) Ops() []Op {
	ops := opsOf(c.Shared, Create, Replace)
	for _, ic := range c.Instances {
		ops = append(ops, ic.Ops...)
	}
	return append(ops, opsOf(c.Shared, Delete)...)
}

// Empty reports whether there is nothing to do.
func (c *Changes) Empty() bool { return len(c.Instances) == 0 && len(c.Shared) == 0 }

// Counts returns the number of ops of each kind.
func (c *Changes) Counts() map[Kind]int {
	n := map[Kind]int{}
	for _, op := range c.Ops() {
		n[op.Kind]++
	}
	return n
}
