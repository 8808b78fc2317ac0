package compiler

import (
	"fmt"

	"github.com/bottleplan/bottleplan/plan"
	"github.com/bottleplan/bottleplan/schema"
)

// manifestDigest is "sha256:" of the canonical JSON (plan.CanonicalJSON,
// the plan file's own encoding) of the resolved
// manifest (defaults applied, extends resolved, prompt files read by the
// loader). The manifest holds no absolute paths and no host env values,
// so the digest is the same on every machine.
func manifestDigest(m *schema.Manifest) (string, error) {
	d, err := plan.CanonicalDigest(m)
	if err != nil {
		return "", fmt.Errorf("manifest digest: %w", err)
	}
	return d, nil
}

// Config hashes.
//
// Like compose's service hash, each hash covers exactly the fields whose
// change requires recreating the resource, and leaves out those that do
// not (review-only data, fields of other resources, the plan digest).
// Each is "sha256:" of the canonical JSON of one of the structs below,
// whose "resource" and "v" fields keep hashes of different resources and
// of different versions of this list apart. Adding a field to a struct
// changes every hash of that kind: do it only with a plan format change.
// executor.ConfigFields splits the same inputs into named parts, so apply
// can say which part changed; a field added here belongs there too.

// networkHashInput: the networks are recreated when their name, their
// subnet or gateway, or the backend (internal bridge plus egress bridge
// on docker, one bridge on smolmachines) changes. Pinned, the probe IP
// and everything about the containers are left out. The egress name is
// the project's shared network now (plan.EgressNetworkName); it stays in
// the input so the hash keeps its meaning, and executor.Diff keeps an
// internal network whose hash moved only with it (the per-instance egress
// name of an older plan).
type networkHashInput struct {
	Resource     string `json:"resource"`
	V            int    `json:"v"`
	Backend      string `json:"backend"`
	Subnet       string `json:"subnet"`
	Gateway      string `json:"gateway"`
	InternalName string `json:"internal_name"`
	EgressName   string `json:"egress_name"`
}

// bundleHashInput: the bundle container is recreated when its name, its
// address or networks, the backend, or the config its daemons are started
// with (proxy routes, git gate, supervise, the secret NAMEs passed as env)
// changes. The agent's image, command, prompt, env and resources are left
// out: changing them must not restart the proxy.
type bundleHashInput struct {
	Resource        string          `json:"resource"`
	V               int             `json:"v"`
	Backend         string          `json:"backend"`
	ContainerName   string          `json:"container_name"`
	BundleIP        string          `json:"bundle_ip"`
	InternalName    string          `json:"internal_name"`
	EgressName      string          `json:"egress_name"`
	Proxy           plan.Proxy      `json:"proxy"`
	GitGate         *plan.GitGate   `json:"git_gate"`
	Supervise       *plan.Supervise `json:"supervise"`
	SecretsFromHost []string        `json:"secrets_from_host"`
}

// agentHashInput: everything the agent container (docker) or machine
// (smolmachines) is created with: backend, runtime, image or dockerfile
// and its digest, command, prompt mode and text, provider template,
// skills, resources, names, its address and network, the bundle IP it is
// fenced to (allow CIDR), the guest env, the env NAMEs copied from the
// host or prompted for, and whether the endpoints are assigned at apply.
// The bottle chain (review only), the bundle's routes (enforced by the
// proxy, not the agent) and the probe IP are left out.
type agentHashInput struct {
	Resource        string            `json:"resource"`
	V               int               `json:"v"`
	Backend         string            `json:"backend"`
	Runtime         string            `json:"runtime"`
	Agent           plan.Agent        `json:"agent"`
	AgentIP         string            `json:"agent_ip"`
	BundleIP        string            `json:"bundle_ip"`
	AllowCIDR       string            `json:"allow_cidr"`
	InternalName    string            `json:"internal_name"`
	GuestEnv        map[string]string `json:"guest_env"`
	EnvFromHost     map[string]string `json:"env_from_host"`
	EnvPrompted     map[string]string `json:"env_prompted"`
	AssignedAtApply bool              `json:"assigned_at_apply"`
}

// hashVersion is bumped when the hash inputs change meaning.
const hashVersion = 1

// configHashes computes the three hashes of an instance whose other
// fields are filled.
func configHashes(in *plan.Instance) plan.ConfigHash {
	n := in.Network
	return plan.ConfigHash{
		Network: mustDigest(networkHashInput{
			Resource: "network", V: hashVersion, Backend: in.Backend,
			Subnet: n.Subnet, Gateway: n.Gateway,
			InternalName: n.InternalName, EgressName: n.EgressName,
		}),
		Bundle: mustDigest(bundleHashInput{
			Resource: "bundle", V: hashVersion, Backend: in.Backend,
			ContainerName: in.Bundle.ContainerName, BundleIP: n.BundleIP,
			InternalName: n.InternalName, EgressName: n.EgressName,
			Proxy: in.Bundle.Proxy, GitGate: in.Bundle.GitGate,
			Supervise: in.Bundle.Supervise, SecretsFromHost: in.Bundle.SecretsFromHost,
		}),
		Agent: mustDigest(agentHashInput{
			Resource: "agent", V: hashVersion, Backend: in.Backend, Runtime: in.Runtime,
			Agent: in.Agent, AgentIP: n.AgentIP, BundleIP: n.BundleIP,
			AllowCIDR: n.AllowCIDR, InternalName: n.InternalName,
			GuestEnv: in.GuestEnv, EnvFromHost: in.EnvFromHost, EnvPrompted: in.EnvPrompted,
			AssignedAtApply: in.Endpoints.AssignedAtApply,
		}),
	}
}

// mustDigest is plan.CanonicalDigest (SHA256 of CanonicalJSON) of a hash input: keys
// sorted, nil and empty collections alike, so neither struct field order
// nor nil-versus-empty moves a hash. The inputs are plain data by
// construction (strings, ints, bools, slices and maps of them), so
// encoding cannot fail.
func mustDigest(v any) string {
	d, err := plan.CanonicalDigest(v)
	if err != nil {
		panic(fmt.Sprintf("compiler: hashing plain data: %v", err))
	}
	return d
}
