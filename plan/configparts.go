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

// ConfigParts returns the inputs of in's config hash for resource r, by
// name (the JSON field names the hash has always used, so hashes do not
// move). Values are plan data; none is a secret value.
//
//   - network: the networks are recreated when their name, their subnet
//     or gateway, or the backend (internal bridge plus egress bridge on
//     docker, one bridge on smolmachines) changes. Pinned, the probe IP
//     and everything about the containers are left out.
//   - bundle: the bundle container is recreated when its name, its
//     address or networks, the backend, or the config its daemons are
//     started with (proxy routes, git gate, supervise, the secret NAMEs
//     passed as env) changes. The agent's image, command, prompt, env and
//     resources are left out: changing them must not restart the proxy.
//   - agent: everything the agent container (docker) or machine
//     (smolmachines) is created with: backend, runtime, image or
//     dockerfile and its digest, command, prompt mode and text, provider
//     template, skills, resources, names, its address and network, the
//     bundle IP it is fenced to (allow CIDR), the guest env, the env NAMEs
//     copied from the host or prompted for, and whether the endpoints are
//     assigned at apply. The bottle chain (review only), the bundle's
//     routes (enforced by the proxy, not the agent) and the probe IP are
//     left out.
//
// An unknown r has no parts.
func ConfigParts(in *Instance, r ConfigResource) map[string]any {
	n := in.Network
	switch r {
	case ConfigNetwork:
		return map[string]any{
			"backend":       in.Backend,
			"subnet":        n.Subnet,
			"gateway":       n.Gateway,
			"internal_name": n.InternalName,
			"egress_name":   n.EgressName,
		}
	case ConfigBundle:
		return map[string]any{
			"backend":           in.Backend,
			"container_name":    in.Bundle.ContainerName,
			"bundle_ip":         n.BundleIP,
			"internal_name":     n.InternalName,
			"egress_name":       n.EgressName,
			"proxy":             in.Bundle.Proxy,
			"git_gate":          in.Bundle.GitGate,
			"supervise":         in.Bundle.Supervise,
			"secrets_from_host": in.Bundle.SecretsFromHost,
		}
	case ConfigAgent:
		return map[string]any{
			"backend":           in.Backend,
			"runtime":           in.Runtime,
			"agent":             in.Agent,
			"agent_ip":          n.AgentIP,
			"bundle_ip":         n.BundleIP,
			"allow_cidr":        n.AllowCIDR,
			"internal_name":     n.InternalName,
			"guest_env":         in.GuestEnv,
			"env_from_host":     in.EnvFromHost,
			"env_prompted":      in.EnvPrompted,
			"assigned_at_apply": in.Endpoints.AssignedAtApply,
		}
	}
	return nil
}
