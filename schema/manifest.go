package schema

import "time"

// The Go types below are the loader's output: a manifest after validation,
// defaults and `extends` resolution. They carry no CUE values and no
// positions, so the compiler can stay pure and cheap.
//
// Invariants that Load guarantees for every *Manifest it returns:
//   - every name matches NamePattern;
//   - every Bottle is fully resolved: Chain is root-first and ends with the
//     bottle itself, and every field is the merge of the chain;
//   - defaults are applied (Backend, Runtime, Ports, Access, DLP, Template);
//   - every Agent names an existing bottle and carries its prompt text
//     (prompt_file is read by the loader);
//   - no map is nil.

// Manifest is one validated, resolved manifest (all files unified).
type Manifest struct {
	// Version is the manifest format version; always 1 today.
	Version int `json:"version"`
	// Project prefixes every live resource; default "bottleplan".
	Project string `json:"project"`
	// Defaults holds the pool, prefix and backend after defaulting.
	Defaults Defaults `json:"defaults"`
	// Bottles by name, each resolved through its extends chain.
	Bottles map[string]*Bottle `json:"bottles"`
	// Agents by name; one plan instance per agent.
	Agents map[string]*Agent `json:"agents"`
	// Warnings are the lints that do not make the manifest invalid
	// (lint.go), sorted by position; nil when there are none.
	Warnings Errors `json:"-"`
}

// Defaults are the manifest-wide settings.
type Defaults struct {
	// Backend is "docker" or "smolmachines"; default "docker".
	Backend string `json:"backend"`
	// AddressPool is an IPv4 private CIDR; default "10.231.0.0/16".
	AddressPool string `json:"address_pool"`
	// SubnetPrefix is the prefix length of each instance subnet, 24..29;
	// default 28.
	SubnetPrefix int `json:"subnet_prefix"`
}

// Bottle is a sandbox policy after extends resolution.
type Bottle struct {
	// Name is the bottle's key in the manifest.
	Name string `json:"name"`
	// Chain lists the extends chain root first, ending with Name,
	// e.g. ["claude", "dev"].
	Chain []string `json:"chain"`
	// AgentProvider is merged per field along the chain.
	AgentProvider AgentProvider `json:"agent_provider"`
	// Env is merged per key along the chain (child wins).
	Env map[string]EnvValue `json:"env"`
	// GitGate: User merged per field, Repos replaced whole.
	GitGate GitGate `json:"git_gate"`
	// Egress is replaced whole by a child that sets it.
	Egress Egress `json:"egress"`
	// Supervise turns on the supervise endpoint in the bundle.
	Supervise bool `json:"supervise"`
	// HoldTimeout is how long a request a supervise rule holds waits
	// for the operator: 10s..24h when Supervise (default
	// #SuperviseDefaults), else 0.
	HoldTimeout time.Duration `json:"hold_timeout,omitempty"`
	// Network carries an optional pinned subnet.
	Network Network `json:"network"`
	// Resources are the agent's limits; never nil after Load: a bottle
	// (and its parents) without resources gets #Resources' defaults.
	Resources *Resources `json:"resources"`
	// Runtime is "auto", "runc" or "runsc"; default "auto".
	Runtime string `json:"runtime"`
	// Backend is the bottle's backend after falling back to
	// Defaults.Backend.
	Backend string `json:"backend"`
	// Replaces names the sections ("egress", "git_gate.repos", "env")
	// in which this bottle, as written, drops or overrides what its
	// parent has (a warning at validate); the review marks them
	// "replaces parent's". Nil when none. Derived from the rest of the
	// manifest, so left out of its JSON and digest.
	Replaces []string `json:"-"`
}

// AgentProvider says which agent CLI runs and from which image.
type AgentProvider struct {
	// Template is "claude" (default) or "codex".
	Template string `json:"template"`
	// AuthToken is the NAME of a host env var; the proxy injects its value.
	AuthToken string `json:"auth_token,omitempty"`
	// Dockerfile is a path relative to the manifest root (see
	// Manifest root in Load), slash-separated. Exclusive with Image.
	Dockerfile string `json:"dockerfile,omitempty"`
	// DockerfileDigest is "sha256:<hex>" of the Dockerfile's content, read
	// by the loader so the compiler stays pure.
	DockerfileDigest string `json:"dockerfile_digest,omitempty"`
	// Image is an image reference. Exclusive with Dockerfile.
	Image string `json:"image,omitempty"`
}

// EnvKind says where an env value comes from.
type EnvKind string

const (
	// EnvLiteral values are written in the manifest and land in the plan.
	EnvLiteral EnvKind = "literal"
	// EnvFromHost values are `${NAME}`: copied from the host env at apply.
	EnvFromHost EnvKind = "host"
	// EnvPrompted values are `?` or `?prompt text`: asked for at apply.
	EnvPrompted EnvKind = "prompt"
)

// EnvValue is one declared env entry.
type EnvValue struct {
	Kind EnvKind `json:"kind"`
	// Value is the literal (EnvLiteral), the host variable NAME
	// (EnvFromHost) or the prompt text, possibly empty (EnvPrompted).
	Value string `json:"value"`
}

// GitGate is the bottle's git gate.
type GitGate struct {
	User GitUser `json:"user"`
	// Repos by name.
	Repos map[string]Repo `json:"repos"`
}

// GitUser is the commit identity; fields merge independently.
type GitUser struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// Repo is one upstream repository reachable through the gate.
type Repo struct {
	// URL is ssh://, https:// or scp form user@host:path; never carries
	// credentials.
	URL string  `json:"url"`
	Key RepoKey `json:"key"`
	// HostKey is the upstream's SSH host key line, optional.
	HostKey string `json:"host_key,omitempty"`
	// Access is "read" or "read-write" (default).
	Access string `json:"access"`
}

// RepoKey is the credential the gate uses upstream.
type RepoKey struct {
	// Provider is "static" (ssh key at Path) or "token" (TokenRef).
	Provider string `json:"provider"`
	// Path is the host path of an ssh private key as written ("~/" kept).
	Path string `json:"path,omitempty"`
	// TokenRef is the NAME of a host env var holding an https token.
	TokenRef string `json:"token_ref,omitempty"`
}

// Egress is the bottle's allowlist.
type Egress struct {
	Routes []Route `json:"routes"`
}

// Route is one allowed upstream host.
type Route struct {
	// Host is a lowercase DNS name or "*." + DNS name.
	Host string `json:"host"`
	// Ports default to [443].
	Ports []int `json:"ports"`
	// Auth, when set, makes the proxy inject a token.
	Auth *RouteAuth `json:"auth,omitempty"`
	// Matches restrict paths and methods; empty means everything.
	Matches []Match `json:"matches,omitempty"`
	// DLP is always set after defaulting.
	DLP DLP `json:"dlp"`
	// Websocket lets the agent upgrade requests on this route to a
	// WebSocket; false (the default) refuses every protocol upgrade.
	Websocket bool `json:"websocket,omitempty"`
}

// RouteAuth injects Authorization: <Scheme> <value of TokenRef>.
type RouteAuth struct {
	// Scheme is "Bearer", "token" or "Basic".
	Scheme string `json:"scheme"`
	// TokenRef is the NAME of a host env var.
	TokenRef string `json:"token_ref"`
}

// Match is one path/method rule of a route.
type Match struct {
	Paths   []PathMatch `json:"paths,omitempty"`
	Methods []string    `json:"methods,omitempty"`
}

// PathMatch matches a request path.
type PathMatch struct {
	// Type is "prefix" or "exact".
	Type  string `json:"type"`
	Value string `json:"value"`
}

// DLP is the outbound data-loss policy of a route.
type DLP struct {
	// OutboundOnMatch is "supervise", "redact" or "block"; defaults to
	// "supervise" when the bottle supervises, else "block".
	OutboundOnMatch string `json:"outbound_on_match"`
}

// Network is a bottle's network settings.
type Network struct {
	// Subnet is an optional pinned IPv4 CIDR ("" when not pinned).
	Subnet string `json:"subnet,omitempty"`
}

// Resources are per-instance limits of the agent. CPUs and MemoryMiB
// are 0 when not set (the backend's default: no limit).
type Resources struct {
	CPUs      int `json:"cpus,omitempty"`
	MemoryMiB int `json:"memory_mib,omitempty"`
	// Pids is the agent's pids limit, 64..65536; never 0 after Load
	// (manifest.cue's default when not set).
	Pids int `json:"pids,omitempty"`
}

// Agent is one agent; the compiler makes one plan instance of each.
type Agent struct {
	// Name is the agent's key; it becomes the instance slug.
	Name string `json:"name"`
	// Bottle names an existing bottle.
	Bottle string   `json:"bottle"`
	Skills []string `json:"skills"`
	// Prompt is the prompt text: `prompt`, or the content of
	// `prompt_file` read by the loader.
	Prompt string `json:"prompt"`
	// PromptFile is the prompt_file as written relative to the manifest
	// root, slash-separated; "" when the prompt was inline.
	PromptFile string `json:"prompt_file,omitempty"`
	// Command overrides the template's command; nil means the default.
	Command []string `json:"command,omitempty"`
	// GitUser overlays the bottle's git_gate.user per field.
	GitUser GitUser `json:"git_user"`
}
