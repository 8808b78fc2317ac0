package plan

// Fixed ports and in-container paths shared by the compiler (which writes
// them into guest env and endpoints), the executor (which puts files
// there) and the bundle (which reads them). Changing one is a format
// change.
const (
	// ProxyPort is the egress proxy's port on the bundle IP.
	ProxyPort = 3128
	// GitGatePort is the git gate's smart-HTTP port on the bundle IP.
	GitGatePort = 9418
	// SupervisePort is the supervise endpoint's port on the bundle IP.
	SupervisePort = 9090
	// SuperviseMCPPath is the path of the agent's MCP server on the
	// supervise endpoint; endpoints.supervise_url ends with it.
	SuperviseMCPPath = "/mcp"
	// GuestSuperviseEnv is the guest env variable that holds the
	// supervise URL when supervise is on.
	GuestSuperviseEnv = "BOTTLEPLAN_SUPERVISE_URL"

	// GuestCAFile is where the agent finds the instance CA certificate
	// (PEM); SSL_CERT_FILE and friends point here.
	GuestCAFile = "/etc/bottleplan/ca.pem"
	// GuestPromptFile is where the agent finds its prompt text.
	GuestPromptFile = "/etc/bottleplan/prompt.md"

	// GuestAuthPlaceholder is the value the agent sees in the variable
	// named by its bottle's agent_provider.auth_token (for example
	// CLAUDE_CODE_OAUTH_TOKEN). The agent CLIs refuse to start without a
	// credential; with this one they start and send it, and the proxy
	// replaces the Authorization header with the real token on the way
	// out, so the real value never enters the agent. A review can show
	// the variable as "injected by the proxy" by this value.
	GuestAuthPlaceholder = "bottleplan-proxy-injected"

	// BundleInstanceFile is the JSON encoding of the plan Instance the
	// bundle serves, written by apply into the bundle container.
	BundleInstanceFile = "/etc/bottleplan/instance.json"
	// BundleCAFile is the instance CA certificate (PEM) in the bundle.
	BundleCAFile = "/etc/bottleplan/ca.pem"
	// BundleCAKeyFile is the instance CA private key (PEM, mode 0600); it
	// never leaves the bundle container.
	BundleCAKeyFile = "/etc/bottleplan/ca-key.pem"
	// BundleSSHKeyDir holds, in the bundle container, the private key of
	// each git gate repo with key provider "static", in a file named
	// after the repo (mode 0600); apply copies it from Repo.KeyPath.
	BundleSSHKeyDir = "/etc/bottleplan/ssh"
	// BundleOperatorSocket is the unix socket of the bundle's operator
	// API (supervise decisions) in the bundle container; the host
	// reaches it only through the Engine's exec API.
	BundleOperatorSocket = "/run/bottleplan/operator.sock"
	// BundleBinary is the path of the static bottleplan-bundle binary in
	// the bundle image; the bundle runs BundleBinary "serve".
	BundleBinary = "/bottleplan-bundle"
)
