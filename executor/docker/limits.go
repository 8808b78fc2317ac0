package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"

	"github.com/docker/docker/api/types/container"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// Every limit the Docker backend puts on the containers it makes, in one
// place. The agent is the adversary: each limit caps what a
// prompt-injected agent could take from the host (processes, memory,
// disk) or do on its link (raw frames). The agent's own pids, cpus and
// memory come from the plan (manifest resources); everything here is a
// constant of this bottleplan version, so limitsDigest stamps it on each
// container (LabelLimits) and Observe reports a container made with
// other limits, which Diff replaces.

// agentCapDrop are the capabilities the agent loses on top of Docker's
// default set (which no-new-privileges keeps from growing back):
//   - NET_RAW: raw and packet sockets. With them the agent writes
//     hand-made frames onto the internal bridge, which no routing table
//     governs: the host side of the bridge still answers at layer 2 (an
//     IPv6 link-local address, rp_filter 0), so a frame addressed to the
//     bridge's MAC with another host address as its destination would
//     bypass the bundle. Without NET_RAW only the kernel's own TCP/UDP
//     stack sends, and every packet it sends off the subnet goes to a
//     gateway nobody holds (verify: routes-out, direct-gateway).
//   - MKNOD: making device nodes, which no agent needs.
var agentCapDrop = []string{"NET_RAW", "MKNOD"}

// agentCapabilities returns the capabilities the agent container is made
// with, and the probe container that stands for it in verify: one
// function, so the raw-socket probe tests exactly the agent's set.
// extraAdd is empty outside tests (Backend.agentCapAdd, the hook that
// shows the probe failing when the agent is given NET_RAW back).
func agentCapabilities(extraAdd []string) (capAdd, capDrop []string) {
	return append([]string(nil), extraAdd...), append([]string(nil), agentCapDrop...)
}

// Log rotation of every container (Docker's json-file driver): the agent
// and the bundle write their output to the host's disk, and the bundle's
// decision log grows with every request the agent makes. Each container
// keeps at most logMaxFiles files of logMaxSize: 30 MiB.
const (
	logDriver   = "json-file"
	logMaxSize  = "10m"
	logMaxFiles = 3
)

// logConfig is the log driver and rotation of every container.
func logConfig() container.LogConfig {
	return container.LogConfig{Type: logDriver, Config: map[string]string{
		"max-size": logMaxSize,
		"max-file": strconv.Itoa(logMaxFiles),
	}}
}

// The bundle's limits. The bundle is small (one Go process and, for the
// git gate, short-lived git processes), but it holds what the agent sends
// it: without a memory limit, stalled uploads and the caches of the
// proxy take the host's memory; without a pids limit, a flood of git
// requests forks without end.
const (
	// bundleMemory bounds the bundle's memory (no swap beyond it): the
	// bundle's cap on concurrent inspected bodies (bundle/limits.go)
	// times their size fits well inside.
	bundleMemory = 640 << 20
	// bundlePids bounds the bundle's processes and threads: Go's threads
	// plus the git gate's git processes.
	bundlePids = 1024
	// bundleGoMemLimit is the bundle process's GOMEMLIMIT, 7/8 of
	// bundleMemory: Go's collector works harder as the heap nears it,
	// so garbage from inspected bodies (bundle/limits.go maxScanViews)
	// does not push the container over its limit.
	bundleGoMemLimit = bundleMemory / 8 * 7
)

// bundleEnv is the environment the bundle process gets from its limits.
func bundleEnv() []string {
	return []string{"GOMEMLIMIT=" + strconv.Itoa(bundleGoMemLimit)}
}

// agentPids is the agent's pids limit: the plan's (manifest
// resources.pids, which every plan the compiler makes carries); 0 (no
// limit) only for a plan compiled before pids existed.
func agentPids(in *plan.Instance) int64 {
	if r := in.Agent.Resources; r != nil {
		return int64(r.Pids)
	}
	return 0
}

// applyLimits sets role's limits on host (the agent's cpus and memory,
// from the plan, are set by spec).
func (b *Backend) applyLimits(role executor.Role, in *plan.Instance, host *container.HostConfig) {
	host.LogConfig = logConfig()
	switch role {
	case executor.RoleBundle:
		host.CapDrop = []string{"ALL"}
		host.Resources.Memory = bundleMemory
		host.Resources.MemorySwap = bundleMemory
		pids := int64(bundlePids)
		host.Resources.PidsLimit = &pids
	case executor.RoleAgent:
		host.CapAdd, host.CapDrop = agentCapabilities(b.agentCapAdd)
		if pids := agentPids(in); pids > 0 {
			host.Resources.PidsLimit = &pids
		}
	}
}

// LabelLimits is set on every bundle and agent container: limitsDigest
// of the role when the container was made. A container whose label
// differs (made by another bottleplan version, or before the label) is
// reported by Observe (executor.Resource.LimitsDrift) and replaced.
const LabelLimits = "io.bottleplan.limits"

// limitsInput is what limitsDigest hashes: the HostConfig fields
// applyLimits sets for a role, read back from a HostConfig it filled, so
// the digest cannot miss a limit added there. The agent's pids limit
// comes from the plan (and is in the plan's config hash), so it is
// filled from an instance without resources: absent here.
type limitsInput struct {
	Role       string              `json:"role"`
	CapAdd     []string            `json:"cap_add"`
	CapDrop    []string            `json:"cap_drop"`
	LogConfig  container.LogConfig `json:"log_config"`
	Memory     int64               `json:"memory"`
	MemorySwap int64               `json:"memory_swap"`
	PidsLimit  *int64              `json:"pids_limit"`
	Env        []string            `json:"env,omitempty"`
}

// limitsDigest is the first 12 hex digits of the sha256 of role's
// limitsInput, for LabelLimits; "" for a role that is not a container.
func (b *Backend) limitsDigest(role executor.Role) string {
	if role != executor.RoleBundle && role != executor.RoleAgent {
		return ""
	}
	var h container.HostConfig
	b.applyLimits(role, &plan.Instance{}, &h)
	in := limitsInput{
		Role: string(role), CapAdd: h.CapAdd, CapDrop: h.CapDrop, LogConfig: h.LogConfig,
		Memory: h.Resources.Memory, MemorySwap: h.Resources.MemorySwap, PidsLimit: h.Resources.PidsLimit,
	}
	if role == executor.RoleBundle {
		in.Env = bundleEnv()
	}
	raw, _ := json.Marshal(in) // plain data: cannot fail
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:6])
}

// limitsDrift says why a container's LabelLimits value is not this
// version's for its role; "" when it is, or for a role without limits.
func (b *Backend) limitsDrift(role executor.Role, label string) string {
	want := b.limitsDigest(role)
	switch {
	case want == "" || label == want:
		return ""
	case label == "":
		return "container limits changed (made without " + LabelLimits + ": before log rotation, pids and capability limits)"
	}
	return "container limits changed (made with " + label + ", this bottleplan sets " + want + ")"
}
