package executor

// The probe runner's wire format: verify sends a JSON array of
// ProbeTarget to `bottleplan bundle probe` and reads back a JSON array
// of ProbeResult. These mirror bundle.ProbeTarget and bundle.ProbeResult
// field for field (the executor core must not import bundle, which pulls
// in third-party code); a test in executor/docker checks that both
// encode the same.

// Probe kinds, as bundle defines them.
const (
	ProbeTCP     = "tcp"
	ProbeHTTP    = "http"
	ProbeConnect = "connect"
	ProbeDNS     = "dns"
	ProbeRoutes  = "routes"
)

// Route flags (RTF_* in linux/route.h), as bundle defines them.
const (
	RouteUp      = 0x0001
	RouteGateway = 0x0002
	RouteHost    = 0x0004
	RouteReject  = 0x0200
)

// ProbeTarget is one thing the probe runner tries (see bundle.ProbeTarget).
type ProbeTarget struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Addr      string `json:"addr,omitempty"`
	URL       string `json:"url,omitempty"`
	Proxy     string `json:"proxy,omitempty"`
	Target    string `json:"target,omitempty"`
	Host      string `json:"host,omitempty"`
	Server    string `json:"server,omitempty"`
	TimeoutMS int    `json:"timeout_ms,omitempty"`
}

// ProbeResult is what one probe saw (see bundle.ProbeResult).
type ProbeResult struct {
	Name      string       `json:"name"`
	Kind      string       `json:"kind"`
	Reached   bool         `json:"reached"`
	Status    int          `json:"status,omitempty"`
	Body      string       `json:"body,omitempty"`
	Addrs     []string     `json:"addrs,omitempty"`
	Routes    []ProbeRoute `json:"routes,omitempty"`
	Error     string       `json:"error,omitempty"`
	ElapsedMS int64        `json:"elapsed_ms"`
}

// ProbeRoute is one IPv4 route the routes probe read (see
// bundle.ProbeRoute).
type ProbeRoute struct {
	Iface   string `json:"iface"`
	Dest    string `json:"dest"`
	Gateway string `json:"gateway"`
	Flags   int    `json:"flags"`
}
