package plan

import "time"

// FormatVersion is the only plan format this build reads and writes.
const FormatVersion = 1

// Plan is the reviewed artifact: a pure function of the manifest. It holds
// no timestamps, no absolute host paths, no random values and no host env
// values; names of secrets only.
type Plan struct {
	// FormatVersion is always FormatVersion; a reader refuses others.
	FormatVersion int `json:"format_version"`
	// ManifestDigest is "sha256:<hex>" of the canonical manifest after
	// defaults and extends.
	ManifestDigest string `json:"manifest_digest"`
	// Project prefixes every live resource name and is the value of the
	// io.bottleplan.project label.
	Project string `json:"project"`
	// AddressPool is the IPv4 CIDR instance subnets are carved from.
	AddressPool string `json:"address_pool"`
	// Instances, one per agent, sorted by Slug.
	Instances []Instance `json:"instances"`
	// PlanDigest is "sha256:<hex>" of the canonical encoding of the plan
	// with this field set to "".
	PlanDigest string `json:"plan_digest"`
}

// Backend names.
const (
	BackendDocker       = "docker"
	BackendSmolmachines = "smolmachines"
)

// Instance is one agent in its bottle: everything the executor needs and
// a reviewer must see.
type Instance struct {
	// Slug is the agent name; unique in the plan; used in resource names.
	Slug string `json:"slug"`
	// BottleChain is the extends chain, root first, ending with the bottle
	// the agent names.
	BottleChain []string `json:"bottle_chain"`
	// ReplacesParent names the sections ("egress", "env",
	// "git_gate.repos") in which a bottle of the chain drops or
	// overrides what its parent has; the review marks them "replaces
	// parent's". Review-only: in no config hash. Empty when none.
	ReplacesParent []string `json:"replaces_parent,omitempty"`
	// Backend is BackendDocker or BackendSmolmachines.
	Backend string `json:"backend"`
	// Runtime is "auto", "runc" or "runsc" as declared; "auto" is resolved
	// at apply (runsc when the Engine has it).
	Runtime string `json:"runtime"`

	Network Network `json:"network"`
	Agent   Agent   `json:"agent"`

	// GuestEnv is the literal environment the agent gets: declared
	// literals, proxy and CA variables, git insteadOf rewrites.
	GuestEnv map[string]string `json:"guest_env"`
	// EnvFromHost maps a guest variable NAME to the host variable NAME it
	// is copied from at apply. Names only, never values.
	EnvFromHost map[string]string `json:"env_from_host"`
	// EnvPrompted maps a guest variable NAME to the prompt text shown at
	// apply ("" for a bare "?").
	EnvPrompted map[string]string `json:"env_prompted"`

	Bundle    Bundle    `json:"bundle"`
	Endpoints Endpoints `json:"endpoints"`

	// ConfigHash holds, per live resource, "sha256:<hex>" of the fields
	// whose change requires recreating that resource.
	ConfigHash ConfigHash `json:"config_hash"`
}

// Network is an instance's addresses and live network names. All
// addresses are dotted IPv4 inside Subnet.
type Network struct {
	// Subnet is the instance's CIDR (pinned or allocated from the pool).
	Subnet string `json:"subnet"`
	// Pinned is true when the manifest pinned Subnet.
	Pinned bool `json:"pinned"`
	// Gateway is the first host address (.1).
	Gateway string `json:"gateway"`
	// BundleIP is .2: the bundle container.
	BundleIP string `json:"bundle_ip"`
	// AgentIP is .3: the agent container (docker backend; "" otherwise).
	AgentIP string `json:"agent_ip,omitempty"`
	// ProbeIP is .4: the short-lived container `verify` runs.
	ProbeIP string `json:"probe_ip"`
	// AllowCIDR is the only destination a smolmachines guest may reach,
	// BundleIP + "/32" (smolvm --allow-cidr); "" on docker, where the
	// internal network does the fencing.
	AllowCIDR string `json:"allow_cidr,omitempty"`
	// InternalName is the internal network: the agent's only network
	// (docker) or the bridge the bundle sits on (smolmachines).
	InternalName string `json:"internal_name"`
	// EgressName is the plain bridge only bundles join, their way out
	// ("" when the backend has none). It is the project's, shared by all
	// its docker instances: EgressNetworkName(project). Plans made
	// before it was shared name a network of the instance's own
	// ("<project>-<slug>-egress"); apply moves such an instance's bundle
	// to the shared network.
	EgressName string `json:"egress_name,omitempty"`
}

// EgressNetworkName is the name of a project's egress network: one plain
// bridge from the Engine's default address pools, shared by the bundles
// of every docker instance of the project, with traffic between its
// containers off, so no bundle reaches another. Sharing it is what lets a
// host run more instances than the daemon has default pools (about 30).
func EgressNetworkName(project string) string { return project + "-egress" }

// Prompt modes: how the prompt reaches the agent CLI.
const (
	PromptModeClaudeAppendFile      = "claude_append_file"
	PromptModeCodexInstructionsFile = "codex_instructions_file"
)

// Agent is what runs in the bottle.
type Agent struct {
	// Name is the agent's name (equal to the instance slug).
	Name string `json:"name"`
	// Image is the image reference; "" when Dockerfile is set.
	Image string `json:"image,omitempty"`
	// Dockerfile is slash-separated and relative to the manifest root.
	Dockerfile string `json:"dockerfile,omitempty"`
	// DockerfileDigest is "sha256:<hex>" of the Dockerfile content.
	DockerfileDigest string `json:"dockerfile_digest,omitempty"`
	// Recipe is set when Image is the template's own image, built by
	// apply from the recipe embedded in bottleplan (see Recipe); nil for
	// an image or a dockerfile the manifest names.
	Recipe *Recipe `json:"recipe,omitempty"`
	// Terminal is true when the agent's main process runs with a TTY and
	// an open stdin, so an interactive CLI waits for its operator and
	// `bottleplan attach` reaches it (docker backend). false in plans
	// made before it existed: such agents run without a TTY.
	Terminal bool `json:"terminal,omitempty"`
	// Command is the argv the agent container runs.
	Command []string `json:"command"`
	// PromptMode is one of the PromptMode constants.
	PromptMode string `json:"prompt_mode"`
	// ProviderTemplate is "claude" or "codex".
	ProviderTemplate string `json:"provider_template"`
	// Prompt is the prompt text, so a prompt change shows in review.
	Prompt string `json:"prompt"`
	// Skills as declared, sorted.
	Skills []string `json:"skills"`
	// Resources are the agent's limits. The compiler always sets them,
	// with Pids; nil (a plan compiled before every agent had a pids
	// limit) means backend defaults.
	Resources *Resources `json:"resources"`
	// ContainerName is the docker agent container ("" on smolmachines).
	ContainerName string `json:"container_name,omitempty"`
	// MachineName is the smolvm machine name (smolmachines only).
	MachineName string `json:"machine_name,omitempty"`
}

// Resources are the agent's limits; 0 means no limit of that kind.
type Resources struct {
	// CPUs is the number of CPUs the agent may use.
	CPUs int `json:"cpus,omitempty"`
	// MemoryMiB is the agent's memory limit in MiB.
	MemoryMiB int `json:"memory_mib,omitempty"`
	// Pids is the most processes and threads the agent may run at once
	// (its container's pids limit); set on every plan the compiler makes.
	Pids int `json:"pids,omitempty"`
}

// Bundle is the sidecar: its container and its daemons' config.
type Bundle struct {
	// ContainerName is the bundle container's name.
	ContainerName string `json:"container_name"`
	Proxy         Proxy  `json:"proxy"`
	// GitGate is nil when the bottle declares no repos.
	GitGate *GitGate `json:"git_gate"`
	// Supervise is nil when supervise is off.
	Supervise *Supervise `json:"supervise"`
	// SecretsFromHost are the host env NAMEs the bundle needs (route
	// tokens, repo tokens, auth_token), sorted, unique.
	SecretsFromHost []string `json:"secrets_from_host"`
}

// Proxy is the egress proxy's config.
type Proxy struct {
	// Listen is "bundle_ip:port".
	Listen string `json:"listen"`
	// Routes in manifest order.
	Routes []Route `json:"routes"`
}

// Route is one allowlisted upstream host.
type Route struct {
	// Host is a DNS name or "*." + DNS name (matches strict subdomains).
	Host  string `json:"host"`
	Ports []int  `json:"ports"`
	// Auth, when set, replaces the agent's Authorization header.
	Auth *RouteAuth `json:"auth,omitempty"`
	// Matches restrict paths and methods; empty allows everything.
	Matches []Match `json:"matches,omitempty"`
	// DLP is "supervise", "redact" or "block".
	DLP string `json:"dlp"`
	// Intercept is true when the proxy terminates the agent's TLS with the
	// instance CA and reads each request (matches, DLP, token injection).
	// The compiler sets it on every route, so DLP applies everywhere and
	// a client that pins certificates, or a non-TLS protocol sent through
	// CONNECT, cannot use a route. It stays in the format: a plan whose
	// route has it false (compiled before every route was intercepted)
	// is served as a blind tunnel, where DLP cannot act, and its review
	// says so.
	Intercept bool `json:"intercept"`
	// Websocket is true when the route lets the agent upgrade a request
	// to a WebSocket (manifest egress.routes[].websocket). Without it
	// every protocol upgrade is refused; with it the handshake is checked
	// against Matches and every frame the agent sends is scanned by DLP.
	Websocket bool `json:"websocket,omitempty"`
}

// RouteAuth names the token the proxy injects.
type RouteAuth struct {
	Scheme   string `json:"scheme"`
	TokenRef string `json:"token_ref"`
}

// Match is one path/method rule.
type Match struct {
	Paths   []PathMatch `json:"paths,omitempty"`
	Methods []string    `json:"methods,omitempty"`
}

// PathMatch is "prefix" or "exact" on the request path.
type PathMatch struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// GitGate is the git gate's config.
type GitGate struct {
	// Listen is "bundle_ip:port".
	Listen string `json:"listen"`
	// User is the resolved commit identity.
	User GitUser `json:"user"`
	// Repos sorted by Name.
	Repos []Repo `json:"repos"`
}

// GitUser is a commit identity.
type GitUser struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// Repo is one gated repository.
type Repo struct {
	Name string `json:"name"`
	// Upstream is the URL as declared.
	Upstream string `json:"upstream"`
	// GateURL is what the agent dials (IP literal).
	GateURL string `json:"gate_url"`
	// Access is "read" or "read-write".
	Access string `json:"access"`
	// KeyProvider is "static" or "token".
	KeyProvider string `json:"key_provider"`
	// KeyPath is the host path of the ssh key as written (static).
	KeyPath string `json:"key_path,omitempty"`
	// TokenRef is the host env NAME of the token (token).
	TokenRef string `json:"token_ref,omitempty"`
	HostKey  string `json:"host_key,omitempty"`
}

// Supervise is the supervise endpoint's config.
type Supervise struct {
	// Listen is "bundle_ip:port".
	Listen string `json:"listen"`
	// HoldTimeout is how long a request a supervise rule holds waits for
	// the operator before it is refused: a Go duration in its canonical
	// form (time.Duration.String, "5m0s"), 10s..24h. Empty (plans
	// written before it existed) means OlderPlanHoldTimeout.
	HoldTimeout string `json:"hold_timeout,omitempty"`
}

// OlderPlanHoldTimeout is the hold timeout of a plan written before
// Supervise.HoldTimeout existed; the compiler always writes it, from
// the schema's #SuperviseDefaults.
const OlderPlanHoldTimeout = 5 * time.Minute

// Endpoints are the URLs the agent dials.
type Endpoints struct {
	ProxyURL     string `json:"proxy_url"`
	GitGateURL   string `json:"git_gate_url,omitempty"`
	SuperviseURL string `json:"supervise_url,omitempty"`
	// AssignedAtApply is true when the URLs above are placeholders that
	// apply fills in (smolmachines on hosts where bridge IPs are not
	// routable).
	AssignedAtApply bool `json:"assigned_at_apply"`
}

// ConfigHash holds one "sha256:<hex>" per live resource.
type ConfigHash struct {
	Network string `json:"network"`
	Bundle  string `json:"bundle"`
	Agent   string `json:"agent"`
}
