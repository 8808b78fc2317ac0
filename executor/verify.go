package executor

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/bottleplan/bottleplan/bundle/probewire"
	"github.com/bottleplan/bottleplan/plan"
)

// What `bottleplan verify` asks of a bottle, derived from the plan alone
// (plus the few live facts in VerifyFacts) and judged from the probe
// runner's raw results. The backend only runs the probes (`bottleplan-bundle
// probe` in a short-lived container at probe_ip on the instance's
// internal network, with the agent's resolver) and reads the agent's
// attachments; every decision about what a result means is made here.
//
// What each probe proves, and what it does not:
//
//   - proxy-reachable: GET /healthz on the proxy answers 200. The agent's
//     only peer is up at the address the agent is given.
//   - proxy-allows-route: CONNECT to one allowed host:port is not denied.
//     It proves the proxy's allowlist lets the route through, nothing
//     about the upstream: a 200 passes, and so does a 502 whose body is
//     not a "blocked:" denial (the proxy accepted the target and could not
//     dial it, e.g. on a machine without Internet). An intercepted route
//     is preferred because the proxy answers its CONNECT with 200 before
//     dialling anything, so verify then contacts no upstream at all; a
//     tunnelled route makes the proxy dial the upstream, a contact the
//     plan allows the agent anyway.
//   - proxy-denies-host, proxy-denies-port: CONNECT to a name under the
//     reserved .invalid TLD, and to an allowed host on a port no route
//     lists, answer 403 "blocked:". The proxy decides before dialling, so
//     nothing leaves the bundle.
//   - gate-refuses-push/<repo>: for each read repo, the receive-pack
//     advertisement answers 403 "blocked:". The gate refuses before it
//     contacts the upstream. Read-write repos are not probed: the gate
//     would forward to the real upstream with the bundle's credential.
//   - direct-*: TCP connects, 1.5 s each, to the internal network's
//     gateway, the bundle's egress address, the egress network's gateway,
//     the Docker host's default bridge, the other instances' bundles and
//     egress gateways. Each must get no answer: a connection, a refusal
//     (RST) or an ICMP error within the timeout all mean the address, or
//     a router on the way, answered; only a timeout or "network is
//     unreachable" (the probe's own routing table has no route) pass. A
//     missing neighbour fails ARP after about 3 s, past the timeout, so a
//     gateway nobody owns shows as a timeout.
//   - routes-out: the probe container's IPv4 routing table, which the
//     runner reads from /proc/net/route; it sends no packet anywhere.
//     Each route must be the link route of the instance's own subnet
//     (gateway 0.0.0.0, destination the subnet), go via the instance's
//     gateway, or be a reject route (it sends nothing). Any other link
//     route (another network attached) or any other gateway fails, and
//     the report names it. An empty table passes: nothing can leave. An
//     internal network does not mean "no route out" on Docker Engine
//     20.10: the container still gets a default route via the gateway,
//     which with com.docker.network.bridge.inhibit_ipv4 nobody owns, so
//     that route passes here and its packets die at ARP.
//     With direct-gateway (no answer at the gateway) the pair proves:
//     every IPv4 packet the probe's stack sends off its subnet is handed
//     to the gateway address, and whatever holds that address, if
//     anything, ignored a TCP connect to it; the rest stays on the
//     instance's own subnet. It does not prove:
//       - that nobody owns the gateway: a host or router that holds the
//         address and silently drops a connect to port 22 passes
//         direct-gateway; the Docker host, when it holds the gateway,
//         refuses it (an answer), so the ordinary misconfiguration, the
//         host on the network, fails direct-gateway and the direct-host
//         probes.
//       - who else is on the subnet: the link route reaches any container
//         attached to the internal network, and one that relays traffic
//         (a proxy of its own) is not seen here.
//       - the agent's own table, which is not read: the probe's is built by
//         the Engine from the same single attachment the agent must have
//         (agent-networks checks the agent has no other, which would add
//         a link route to the agent only), and the agent lacks NET_ADMIN
//         (Docker's default capabilities) to change its routes. It lacks
//         NET_RAW too (raw-socket-*), so it cannot put frames on its
//         link that no routing table governs.
//       - other tables and families: /proc/net/route is the main IPv4
//         table only, without policy-routing rules (the Engine adds none)
//         or IPv6 routes (apply never enables IPv6 on its networks).
//   - raw-socket-inet, raw-socket-packet: the probe opens
//     socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) and socket(AF_PACKET,
//     SOCK_RAW, ETH_P_ALL) and closes them at once, sending nothing. Each
//     must fail with EPERM: the agent's side cannot write hand-made IP
//     packets or link-layer frames, which no routing table governs (the
//     host side of the bridge answers at layer 2, see routes-out). The
//     probe container runs as root with the agent container's capability
//     set (the backend derives both from one function), so it proves
//     that set lacks NET_RAW for any user the agent runs as. It does not
//     prove the agent container is the one made with that set: the
//     backend replaces a container made with other limits (its limits
//     label), and agent-networks checks the rest of the agent's config.
//     Another errno (EAFNOSUPPORT, EACCES from a security module) fails
//     too: it says nothing of the capability.
//   - dns-*: a name under .invalid looked up through the resolver the
//     agent has (Docker's embedded DNS, which forwards to the bundle),
//     and straight at bundle_ip:53. Any answer fails, NXDOMAIN too: a
//     resolver that says "no such host" was reachable, and DNS queries
//     are a way to exfiltrate data.
//   - agent-networks, agent-dns (from the agent container's config, not
//     probes): the agent is attached to the internal network only, at
//     agent_ip, and its resolver is the bundle.
//   - bundle-config (from the bundle's labels): the live bundle was made
//     from this plan's bundle config, so the probes test this plan.

// Verify probe names, as reported.
const (
	CheckProxyReachable  = "proxy-reachable"
	CheckProxyAllows     = "proxy-allows-route"
	CheckProxyDeniesHost = "proxy-denies-host"
	CheckProxyDeniesPort = "proxy-denies-port"
	CheckGateRefusesPush = "gate-refuses-push"
	CheckRoutesOut       = "routes-out"
	CheckDirectGateway   = "direct-gateway"
	CheckDirectBundleEgr = "direct-bundle-egress"
	CheckDirectEgressGW  = "direct-egress-gateway"
	CheckDirectHost      = "direct-host"
	CheckDirectInstance  = "direct-instance"
	CheckRawSocketInet   = "raw-socket-inet"
	CheckRawSocketPacket = "raw-socket-packet"
	CheckDNSResolver     = "dns-resolver"
	CheckDNSBundle       = "dns-bundle"
	CheckAgentNetworks   = "agent-networks"
	CheckAgentDNS        = "agent-dns"
	CheckBundleConfig    = "bundle-config"
)

// Probe parameters.
const (
	// DeniedHost is a name no plan can route (.invalid is reserved).
	DeniedHost = "verify.bottleplan.invalid"
	// directTimeoutMS bounds each direct TCP probe.
	directTimeoutMS = 1500
	// dnsTimeoutMS bounds each DNS probe.
	dnsTimeoutMS = 2000
	// proxyTimeoutMS bounds the probes answered by the bundle itself.
	proxyTimeoutMS = 5000
	// allowedTimeoutMS outlasts the proxy's upstream dial timeout (15 s),
	// so an unreachable upstream still comes back as the proxy's 502.
	allowedTimeoutMS = 17000
	// hostProbePort is the port direct-host and the gateways are dialled
	// on; any port does, since a refusal counts as an answer.
	hostProbePort = 22
)

// expectation is what a probe must see to pass.
type expectation int

const (
	expectHealthy     expectation = iota // HTTP 200
	expectAllowed                        // CONNECT 200, or any answer that is not a "blocked:" 403
	expectBlocked                        // 403 with a body starting "blocked:"
	expectNoAnswer                       // tcp: timeout or no route only
	expectNoDNS                          // dns: no answer at all, not even NXDOMAIN
	expectRoutesOut                      // routes: only the own subnet's link route and routes via the gateway
	expectNoRawSocket                    // raw-socket: refused with EPERM
)

// String says the expectation in the report's words.
func (e expectation) String() string {
	switch e {
	case expectHealthy:
		return "200"
	case expectAllowed:
		return "not blocked (200, or the proxy's upstream error)"
	case expectBlocked:
		return "403 blocked:"
	case expectNoAnswer:
		return "no answer (timeout or no route)"
	case expectNoDNS:
		return "no DNS answer"
	case expectRoutesOut:
		return "only the instance's link route and routes via its gateway"
	case expectNoRawSocket:
		return "refused: EPERM (no CAP_NET_RAW)"
	}
	return "?"
}

// Check is one probe verify runs and what it must see.
type Check struct {
	// Probe is what the probe runner does; Probe.Name is the check name.
	Probe probewire.Target
	// Target is what the probe aims at, for the report.
	Target string
	expect expectation
	// subnet and gateway are the instance's, for expectRoutesOut.
	subnet  netip.Prefix
	gateway netip.Addr
}

// Expected says what the check must see, for the report.
func (c Check) Expected() string {
	if c.expect == expectRoutesOut {
		return fmt.Sprintf("only %s on link, the rest via %s", c.subnet, c.gateway)
	}
	return c.expect.String()
}

// VerifyFacts are the live facts verify needs beyond the plan, read by
// the backend.
type VerifyFacts struct {
	// BundleEgressIP is the bundle's address on its egress network ("" when
	// it has none).
	BundleEgressIP string
	// HostAddrs are addresses the Docker host holds on its bridges that
	// the agent must not reach (the default bridge's gateway, the
	// project's egress networks' gateways), by name for the report.
	HostAddrs map[string]string
}

// VerifyChecks returns the checks for instance slug of p, in report
// order. Checks are built from the plan's addresses and routes; facts
// add the live addresses the plan cannot know.
func VerifyChecks(p *plan.Plan, slug string, facts VerifyFacts) ([]Check, error) {
	in := findInstance(p, slug)
	if in == nil {
		return nil, fmt.Errorf("no instance %q in the plan", slug)
	}
	nw := in.Network
	proxy := in.Bundle.Proxy.Listen
	var cs []Check
	add := func(name, target string, e expectation, t probewire.Target) {
		t.Name = name
		cs = append(cs, Check{Probe: t, Target: target, expect: e})
	}

	add(CheckProxyReachable, "GET http://"+proxy+"/healthz", expectHealthy,
		probewire.Target{Kind: probewire.HTTP, URL: "http://" + proxy + "/healthz", TimeoutMS: proxyTimeoutMS})
	routes := in.Bundle.Proxy.Routes
	for i, r := range routes {
		if r.Host == "" || len(r.Ports) == 0 {
			return nil, fmt.Errorf("instance %q: route %d has no host or no ports; the plan is not one the compiler makes", slug, i)
		}
	}
	if target, ok := allowedTarget(routes); ok {
		add(CheckProxyAllows, "CONNECT "+target, expectAllowed,
			probewire.Target{Kind: probewire.Connect, Proxy: proxy, Target: target, TimeoutMS: allowedTimeoutMS})
	}
	denied := net.JoinHostPort(DeniedHost, "443")
	if !routeAllows(routes, DeniedHost, 443) {
		add(CheckProxyDeniesHost, "CONNECT "+denied, expectBlocked,
			probewire.Target{Kind: probewire.Connect, Proxy: proxy, Target: denied, TimeoutMS: proxyTimeoutMS})
	}
	if target, ok := deniedPortTarget(routes); ok {
		add(CheckProxyDeniesPort, "CONNECT "+target, expectBlocked,
			probewire.Target{Kind: probewire.Connect, Proxy: proxy, Target: target, TimeoutMS: proxyTimeoutMS})
	}
	if gg := in.Bundle.GitGate; gg != nil {
		for _, r := range gg.Repos {
			if r.Access == "read-write" {
				continue
			}
			u := "http://" + gg.Listen + "/" + r.Name + ".git/info/refs?service=git-receive-pack"
			add(CheckGateRefusesPush+"/"+r.Name, "GET "+u, expectBlocked,
				probewire.Target{Kind: probewire.HTTP, URL: u, TimeoutMS: proxyTimeoutMS})
		}
	}

	subnet, err := netip.ParsePrefix(nw.Subnet)
	gateway, gerr := netip.ParseAddr(nw.Gateway)
	if err != nil || gerr != nil || !subnet.Addr().Is4() || !gateway.Is4() {
		return nil, fmt.Errorf("instance %q: subnet %q or gateway %q is not IPv4; the plan is not one the compiler makes", slug, nw.Subnet, nw.Gateway)
	}
	cs = append(cs, Check{Probe: probewire.Target{Name: CheckRoutesOut, Kind: probewire.Routes}, Target: "the probe's IPv4 routing table",
		expect: expectRoutesOut, subnet: subnet.Masked(), gateway: gateway})

	direct := func(name, ip string, port int, e expectation) {
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		add(name, "tcp "+addr, e, probewire.Target{Kind: probewire.TCP, Addr: addr, TimeoutMS: directTimeoutMS})
	}
	direct(CheckDirectGateway, nw.Gateway, hostProbePort, expectNoAnswer)
	if facts.BundleEgressIP != "" {
		direct(CheckDirectBundleEgr, facts.BundleEgressIP, plan.ProxyPort, expectNoAnswer)
	}
	for _, name := range slices.Sorted(maps.Keys(facts.HostAddrs)) {
		direct(CheckDirectHost+"/"+name, facts.HostAddrs[name], hostProbePort, expectNoAnswer)
	}
	for _, o := range p.Instances {
		if o.Slug == slug || o.Network.BundleIP == "" {
			continue
		}
		direct(CheckDirectInstance+"/"+o.Slug, o.Network.BundleIP, plan.ProxyPort, expectNoAnswer)
	}

	add(CheckRawSocketInet, "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) with the agent's capabilities", expectNoRawSocket,
		probewire.Target{Kind: probewire.RawSocket, Socket: probewire.SocketInetRaw})
	add(CheckRawSocketPacket, "socket(AF_PACKET, SOCK_RAW, ETH_P_ALL) with the agent's capabilities", expectNoRawSocket,
		probewire.Target{Kind: probewire.RawSocket, Socket: probewire.SocketPacket})

	add(CheckDNSResolver, "lookup "+DeniedHost+" (the agent's resolver)", expectNoDNS,
		probewire.Target{Kind: probewire.DNS, Host: DeniedHost, TimeoutMS: dnsTimeoutMS})
	dnsBundle := net.JoinHostPort(nw.BundleIP, "53")
	add(CheckDNSBundle, "lookup "+DeniedHost+" at "+dnsBundle, expectNoDNS,
		probewire.Target{Kind: probewire.DNS, Host: DeniedHost, Server: dnsBundle, TimeoutMS: dnsTimeoutMS})
	return cs, nil
}

// allowedTarget picks the host:port the allowed-route probe CONNECTs to:
// an intercepted exact host first (the proxy answers before dialling),
// then a tunnelled exact host, then a name under a wildcard. ok is false
// when the plan has no route.
func allowedTarget(routes []plan.Route) (string, bool) {
	for _, pass := range []func(plan.Route) bool{
		func(r plan.Route) bool { return r.Intercept && !isWildcard(r.Host) },
		func(r plan.Route) bool { return !isWildcard(r.Host) },
		func(r plan.Route) bool { return true },
	} {
		for _, r := range routes {
			if !pass(r) {
				continue
			}
			host := r.Host
			if isWildcard(host) {
				host = "verify-probe." + strings.TrimPrefix(host, "*.")
			}
			return net.JoinHostPort(host, strconv.Itoa(r.Ports[0])), true
		}
	}
	return "", false
}

// deniedPortTarget picks an exact route host with a port no route gives
// it.
func deniedPortTarget(routes []plan.Route) (string, bool) {
	for _, r := range routes {
		if isWildcard(r.Host) {
			continue
		}
		for _, port := range []int{1, 8443, 65535} {
			if !routeAllows(routes, r.Host, port) {
				return net.JoinHostPort(r.Host, strconv.Itoa(port)), true
			}
		}
	}
	return "", false
}

// routeAllows reports whether any route allows host:port, by the rules
// of bundle.Policy (exact names, "*." for strict subdomains, case
// folded). It only picks probe targets: the probes themselves ask the
// bundle's real policy. This package cannot import bundle (it keeps the
// executor core free of third-party code), so the rule is restated here
// and kept small.
func routeAllows(routes []plan.Route, host string, port int) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, r := range routes {
		rh := strings.ToLower(strings.TrimSuffix(r.Host, "."))
		match := rh == host
		if base, ok := strings.CutPrefix(rh, "*."); ok {
			match = strings.HasSuffix(host, "."+base) && len(host) > len(base)+1
		}
		if match && slices.Contains(r.Ports, port) {
			return true
		}
	}
	return false
}

func isWildcard(h string) bool { return strings.HasPrefix(h, "*.") }

func findInstance(p *plan.Plan, slug string) *plan.Instance {
	for i := range p.Instances {
		if p.Instances[i].Slug == slug {
			return &p.Instances[i]
		}
	}
	return nil
}
