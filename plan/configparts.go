package plan

// Config hashes and the parts they are made of.
//
// Like compose's service hash, each of an instance's three config hashes
// (ConfigHash) covers exactly the fields whose change requires
// recreating the resource, and leaves out those that do not (review-only
// data such as BottleChain and ReplacesParent, fields of other
// resources, the plan digest). ConfigParts is the one list of those
// fields: the compiler hashes it (with a resource name and a version),
// and the executor labels each live resource with a digest per part
// (executor.LabelConfigFields) so Diff can say which part changed.
// Adding a part changes every hash of that kind: do it only with a plan
// format change.

// ConfigResource is a resource kind with its own config hash.
type ConfigResource string

// The config hash kinds. Both networks of a docker instance share one.
const (
	ConfigNetwork ConfigResource = "network"
	ConfigBundle  ConfigResource = "bundle"
	ConfigAgent   ConfigResource = "agent"
)

// ConfigHashVersion is bumped when the config hash inputs change
// meaning; every input carries it.
const ConfigHashVersion = 1

// ConfigParts returns the inputs of in's config hash for resource r: a
// NetworkConfig, BundleConfig or AgentConfig (nil for an unknown r).
// Its JSON fields are the parts; Resource and V keep the hashes of
// different resources and of different versions of these lists apart.
// Values are plan data; none is a secret value.
func ConfigParts(in *Instance, r ConfigResource) any {
	n := in.Network
	switch r {
	case ConfigNetwork:
		return NetworkConfig{
			Resource: string(r), V: ConfigHashVersion, Backend: in.Backend,
			Subnet: n.Subnet, Gateway: n.Gateway,
			InternalName: n.InternalName, EgressName: n.EgressName,
		}
	case ConfigBundle:
		return BundleConfig{
			Resource: string(r), V: ConfigHashVersion, Backend: in.Backend,
			ContainerName: in.Bundle.ContainerName, BundleIP: n.BundleIP,
			InternalName: n.InternalName, EgressName: n.EgressName,
			Proxy: in.Bundle.Proxy, GitGate: in.Bundle.GitGate,
			Supervise: in.Bundle.Supervise, SecretsFromHost: in.Bundle.SecretsFromHost,
		}
	case ConfigAgent:
		return AgentConfig{
			Resource: string(r), V: ConfigHashVersion, Backend: in.Backend, Runtime: in.Runtime,
			Agent: in.Agent, AgentIP: n.AgentIP, BundleIP: n.BundleIP,
			AllowCIDR: n.AllowCIDR, InternalName: n.InternalName,
			GuestEnv: in.GuestEnv, EnvFromHost: in.EnvFromHost, EnvPrompted: in.EnvPrompted,
			AssignedAtApply: in.Endpoints.AssignedAtApply,
		}
	}
	return nil
}

// NetworkConfig: the networks are recreated when their name, their
// subnet or gateway, or the backend (internal bridge plus egress bridge
// on docker, one bridge on smolmachines) changes. Pinned, the probe IP
// and everything about the containers are left out.
type NetworkConfig struct {
	Resource     string `json:"resource"`
	V            int    `json:"v"`
	Backend      string `json:"backend"`
	Subnet       string `json:"subnet"`
	Gateway      string `json:"gateway"`
	InternalName string `json:"internal_name"`
	EgressName   string `json:"egress_name"`
}

// BundleConfig: the bundle container is recreated when its name, its
// address or networks, the backend, or the config its daemons are
// started with (proxy routes, git gate, supervise, the secret NAMEs
// passed as env) changes. The agent's image, command, prompt, env and
// resources are left out: changing them must not restart the proxy.
type BundleConfig struct {
	Resource        string     `json:"resource"`
	V               int        `json:"v"`
	Backend         string     `json:"backend"`
	ContainerName   string     `json:"container_name"`
	BundleIP        string     `json:"bundle_ip"`
	InternalName    string     `json:"internal_name"`
	EgressName      string     `json:"egress_name"`
	Proxy           Proxy      `json:"proxy"`
	GitGate         *GitGate   `json:"git_gate"`
	Supervise       *Supervise `json:"supervise"`
	SecretsFromHost []string   `json:"secrets_from_host"`
}

// AgentConfig: everything the agent container (docker) or machine
// (smolmachines) is created with: backend, runtime, image or dockerfile
// and its digest, command, prompt mode and text, provider template,
// skills, resources, names, its address and network, the bundle IP it is
// fenced to (allow CIDR), the guest env, the env NAMEs copied from the
// host or prompted for, and whether the endpoints are assigned at apply.
// The bottle chain and ReplacesParent (review only), the bundle's routes
// (enforced by the proxy, not the agent) and the probe IP are left out.
type AgentConfig struct {
	Resource        string            `json:"resource"`
	V               int               `json:"v"`
	Backend         string            `json:"backend"`
	Runtime         string            `json:"runtime"`
	Agent           Agent             `json:"agent"`
	AgentIP         string            `json:"agent_ip"`
	BundleIP        string            `json:"bundle_ip"`
	AllowCIDR       string            `json:"allow_cidr"`
	InternalName    string            `json:"internal_name"`
	GuestEnv        map[string]string `json:"guest_env"`
	EnvFromHost     map[string]string `json:"env_from_host"`
	EnvPrompted     map[string]string `json:"env_prompted"`
	AssignedAtApply bool              `json:"assigned_at_apply"`
}
