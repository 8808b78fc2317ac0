package executor

import "sort"

// Observed is the live state of one project as a backend read it, once,
// at the start of a command. It is plain data so Diff stays pure and
// tests can write it as a literal.
type Observed struct {
	// Project is the project whose resources were read.
	Project string
	// Resources are every resource labelled with Project, in any order.
	Resources []Resource
	// Networks are every network on the host, ours and foreign, with
	// their IPv4 subnets; Diff checks pinned subnets against them.
	Networks []HostNetwork
	// Images maps each agent.image reference of the plan to the image
	// ID it names now ("" when no such image is on the machine), as an
	// ImageResolver read it; nil when the backend resolves none. Diff
	// replaces an agent container whose ImageID differs: the reference
	// was rebuilt or retagged since the container was made.
	Images map[string]string
	// Grants maps an instance slug to the runtime grants its running
	// bundle holds, as a Supervisor read them; only instances with
	// supervise on are asked, and those with none are absent. Diff
	// revokes the ones the plan's routes do not cover.
	Grants map[string][]Grant
}

// Resource is one live resource carrying the project label.
type Resource struct {
	// Role, Instance, ConfigHash and PlanDigest are the resource's labels.
	Role       Role
	Instance   string
	ConfigHash string
	PlanDigest string
	// ConfigFields is its LabelConfigFields value ("" when it has none):
	// Diff names the parts of the plan that changed from it.
	ConfigFields string
	// LimitsDrift, when not "", says that the container was made with
	// other limits than the backend sets now (capabilities, log
	// rotation, the bundle's memory and pids: constants of the backend's
	// code, not plan fields, so the config hash cannot see them), in
	// words for the replace's cause. Diff replaces such a container.
	LimitsDrift string
	// ID is the backend's identifier (container or network ID).
	ID string
	// Name is the resource's name.
	Name string

	// State is the container state in Docker's words ("created",
	// "running", "exited", "paused", "restarting", "dead"); "" for
	// networks. "created" means a container was never started: an apply
	// stopped between creating and starting it. Other backends map their
	// states onto these.
	State string
	// ExitCode is the last exit code of a container that is not running.
	ExitCode int
	// ImageID is the ID ("sha256:...") of the image a container was
	// created from; "" when the backend does not report one (a smolvm
	// machine), and Diff then skips the image check.
	ImageID string
	// CAFingerprint is "sha256:<hex>" of the instance CA certificate
	// found in the container (BundleCAFile in a bundle, GuestCAFile in an
	// agent); "" when the file is absent. Every backend must report it
	// for bundles and agents: Diff replaces an agent whose fingerprint
	// differs from its bundle's.
	CAFingerprint string
	// CADomains are the permitted DNS domains of that CA's name
	// constraints, sorted (CertDomains); nil when it has none or the file
	// is absent. Backends must report it for bundles: Diff makes a new CA
	// when the plan's route hosts are not all within the bundle's
	// (Uncovered).
	CADomains []string
	// Addresses maps each network a container is attached to, by name,
	// to its IPv4 address there (for a stopped container, the address it
	// was created with; "" when none was pinned). nil means the backend
	// does not attach the resource to networks, and Diff skips the
	// address check; an empty map means attached to none.
	Addresses map[string]string

	// Subnet and Gateway are a network's IPv4 configuration; Internal
	// says whether it has no route out.
	Subnet   string
	Gateway  string
	Internal bool
}

// HostNetwork is any network on the host, for the subnet overlap check.
type HostNetwork struct {
	Name string
	// Project is the value of its LabelProject label ("" when it has none).
	Project string
	// Subnets are its IPv4 subnets in CIDR notation.
	Subnets []string
}

// Running reports whether a container resource is running.
func (r Resource) Running() bool { return r.State == "running" }

// byInstance groups rs by instance slug, each group sorted by role rank
// then name, so every walk over observed state is deterministic.
func byInstance(rs []Resource) map[string][]Resource {
	m := map[string][]Resource{}
	for _, r := range rs {
		m[r.Instance] = append(m[r.Instance], r)
	}
	for _, g := range m {
		sort.Slice(g, func(i, j int) bool {
			if g[i].Role.rank() != g[j].Role.rank() {
				return g[i].Role.rank() < g[j].Role.rank()
			}
			if g[i].Name != g[j].Name {
				return g[i].Name < g[j].Name
			}
			return g[i].ID < g[j].ID
		})
	}
	return m
}
