package probewire

// Probe kinds.
const (
	// TCP connects to Target.Addr.
	TCP = "tcp"
	// HTTP sends GET Target.URL, directly or through Target.Proxy.
	HTTP = "http"
	// Connect sends "CONNECT Target.Target" to the proxy at Target.Proxy
	// and reports the proxy's answer (no TLS inside).
	Connect = "connect"
	// DNS resolves Target.Host, with the system resolver or Target.Server.
	DNS = "dns"
	// Routes reads the container's IPv4 routing table (/proc/net/route)
	// and reports it in Result.Routes. It sends no packet.
	Routes = "routes"
	// RawSocket opens a socket of Target.Socket and closes it at once,
	// sending nothing; Result.Errno says why it could not.
	RawSocket = "raw-socket"
)

// Sockets a raw-socket probe opens.
const (
	// SocketInetRaw is socket(AF_INET, SOCK_RAW, IPPROTO_ICMP): hand-made
	// IP packets.
	SocketInetRaw = "inet-raw-icmp"
	// SocketPacket is socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)):
	// hand-made link-layer frames.
	SocketPacket = "packet-raw"
)

// Route flags (RTF_* in linux/route.h) as /proc/net/route prints them.
const (
	RouteUp      = 0x0001 // RTF_UP: the route is usable
	RouteGateway = 0x0002 // RTF_GATEWAY: the destination is via Gateway
	RouteHost    = 0x0004 // RTF_HOST: a host route (/32)
	RouteReject  = 0x0200 // RTF_REJECT: unreachable or prohibit, sends nothing
)

// Target is one thing the probe runner tries from inside a container.
type Target struct {
	// Name labels the probe in the results.
	Name string `json:"name"`
	// Kind is one of the kind constants.
	Kind string `json:"kind"`
	// Addr is "host:port" (tcp).
	Addr string `json:"addr,omitempty"`
	// URL is what http fetches.
	URL string `json:"url,omitempty"`
	// Proxy is the proxy URL (http, optional) or "host:port" (connect).
	Proxy string `json:"proxy,omitempty"`
	// Target is "host:port" for connect.
	Target string `json:"target,omitempty"`
	// Host is the name to resolve (dns).
	Host string `json:"host,omitempty"`
	// Server is "ip:port" of the DNS server to ask (dns, optional).
	Server string `json:"server,omitempty"`
	// Socket is the socket a raw-socket probe opens (SocketInetRaw,
	// SocketPacket).
	Socket string `json:"socket,omitempty"`
	// TimeoutMS bounds the probe; 0 means the runner's default.
	TimeoutMS int `json:"timeout_ms,omitempty"`
}

// Result is what one probe saw.
type Result struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Reached is true when the tcp connection opened, the http or
	// connect request got any HTTP answer, the dns name resolved, the
	// routing table was read (routes; an empty table is still read), or
	// the socket opened (raw-socket).
	Reached bool `json:"reached"`
	// Status is the HTTP status (http, connect).
	Status int `json:"status,omitempty"`
	// Body is the start of the answer's body (at most 512 bytes).
	Body string `json:"body,omitempty"`
	// Addrs are the resolved addresses (dns).
	Addrs []string `json:"addrs,omitempty"`
	// Routes is the IPv4 routing table (routes), in the kernel's order.
	Routes []Route `json:"routes,omitempty"`
	// Error says why the target was not reached.
	Error string `json:"error,omitempty"`
	// Errno is the errno name ("EPERM") of a socket that could not be
	// opened (raw-socket).
	Errno string `json:"errno,omitempty"`
	// ElapsedMS is how long the probe took.
	ElapsedMS int64 `json:"elapsed_ms"`
}

// Route is one line of the IPv4 routing table as the routes probe
// reports it. verify judges where each route leads; the runner only reads
// the table, it sends no packet.
type Route struct {
	// Iface is the interface the route leaves by ("*" for reject and
	// blackhole routes).
	Iface string `json:"iface"`
	// Dest is the destination prefix, "0.0.0.0/0" for the default route.
	Dest string `json:"dest"`
	// Gateway is the next hop, "0.0.0.0" for a link route (the
	// destination is on the interface's own link).
	Gateway string `json:"gateway"`
	// Flags are the kernel's RTF_* bits (RouteUp, RouteGateway, ...).
	Flags int `json:"flags"`
}
