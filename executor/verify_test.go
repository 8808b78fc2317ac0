package executor

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bottleplan/bottleplan/bundle/probewire"
	"github.com/bottleplan/bottleplan/plan"
)

func verifyPlan() *plan.Plan {
	a := testInstance("a", "10.9.0")
	a.Bundle.Proxy = plan.Proxy{Listen: "10.9.0.2:3128", Routes: []plan.Route{
		{Host: "*.pythonhosted.org", Ports: []int{443}},
		{Host: "github.com", Ports: []int{443, 22}},
		{Host: "api.anthropic.com", Ports: []int{443}, Intercept: true, Auth: &plan.RouteAuth{Scheme: "Bearer", TokenRef: "T"}},
	}}
	a.Bundle.GitGate = &plan.GitGate{Listen: "10.9.0.2:9418", Repos: []plan.Repo{
		{Name: "docs", Access: "read"},
		{Name: "app", Access: "read-write"},
	}}
	b := testInstance("b", "10.9.1")
	c := testInstance("c", "10.9.2")
	return testPlan(a, b, c)
}

// TestVerifyChecks lists every check of a full instance with its probe:
// the order, the targets and what each must see are the report.
func TestVerifyChecks(t *testing.T) {
	p := verifyPlan()
	cs, err := VerifyChecks(p, "a", VerifyFacts{
		BundleEgressIP: "172.30.0.2",
		HostAddrs:      map[string]string{"bridge": "172.17.0.1", "p-a-egress": "172.30.0.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		pr := c.Probe
		got = append(got, fmt.Sprintf("%s | %s | %s | %s %s%s%s%s%s%s%s %d", pr.Name, c.Target, c.Expected(),
			pr.Kind, pr.Addr, pr.URL, pr.Proxy, pr.Target, pr.Host, pr.Server, pr.Socket, pr.TimeoutMS))
	}
	want := []string{
		"proxy-reachable | GET http://10.9.0.2:3128/healthz | 200 | http http://10.9.0.2:3128/healthz 5000",
		"proxy-allows-route | CONNECT api.anthropic.com:443 | not blocked (200, or the proxy's upstream error) | connect 10.9.0.2:3128api.anthropic.com:443 17000",
		"proxy-denies-host | CONNECT verify.bottleplan.invalid:443 | 403 blocked: | connect 10.9.0.2:3128verify.bottleplan.invalid:443 5000",
		"proxy-denies-port | CONNECT github.com:1 | 403 blocked: | connect 10.9.0.2:3128github.com:1 5000",
		"gate-refuses-push/docs | GET http://10.9.0.2:9418/docs.git/info/refs?service=git-receive-pack | 403 blocked: | http http://10.9.0.2:9418/docs.git/info/refs?service=git-receive-pack 5000",
		"routes-out | the probe's IPv4 routing table | only 10.9.0.0/28 on link, the rest via 10.9.0.1 | routes  0",
		"direct-gateway | tcp 10.9.0.1:22 | no answer (timeout or no route) | tcp 10.9.0.1:22 1500",
		"direct-bundle-egress | tcp 172.30.0.2:3128 | no answer (timeout or no route) | tcp 172.30.0.2:3128 1500",
		"direct-host/bridge | tcp 172.17.0.1:22 | no answer (timeout or no route) | tcp 172.17.0.1:22 1500",
		"direct-host/p-a-egress | tcp 172.30.0.1:22 | no answer (timeout or no route) | tcp 172.30.0.1:22 1500",
		"direct-instance/b | tcp 10.9.1.2:3128 | no answer (timeout or no route) | tcp 10.9.1.2:3128 1500",
		"direct-instance/c | tcp 10.9.2.2:3128 | no answer (timeout or no route) | tcp 10.9.2.2:3128 1500",
		"raw-socket-inet | socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) with the agent's capabilities | refused: EPERM (no CAP_NET_RAW) | raw-socket inet-raw-icmp 0",
		"raw-socket-packet | socket(AF_PACKET, SOCK_RAW, ETH_P_ALL) with the agent's capabilities | refused: EPERM (no CAP_NET_RAW) | raw-socket packet-raw 0",
		"dns-resolver | lookup verify.bottleplan.invalid (the agent's resolver) | no DNS answer | dns verify.bottleplan.invalid 2000",
		"dns-bundle | lookup verify.bottleplan.invalid at 10.9.0.2:53 | no DNS answer | dns verify.bottleplan.invalid10.9.0.2:53 2000",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("checks (-want +got):\n%s", d)
	}

	// An instance without routes, repos or live facts still gets the
	// network and DNS checks, and no allowed-route probe.
	cs, err = VerifyChecks(p, "b", VerifyFacts{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Probe.Name)
	}
	wantNames := []string{"proxy-reachable", "proxy-denies-host", "routes-out", "direct-gateway", "direct-instance/a", "direct-instance/c", "raw-socket-inet", "raw-socket-packet", "dns-resolver", "dns-bundle"}
	if d := cmp.Diff(wantNames, names); d != "" {
		t.Errorf("checks of b (-want +got):\n%s", d)
	}

	if _, err := VerifyChecks(p, "nosuch", VerifyFacts{}); err == nil {
		t.Error("VerifyChecks of an unknown slug did not fail")
	}
	p.Instances[2].Network.Subnet = "fd00::/64"
	if _, err := VerifyChecks(p, "c", VerifyFacts{}); err == nil || !strings.Contains(err.Error(), "not IPv4") {
		t.Errorf("VerifyChecks of an IPv6 subnet: %v; want a refusal", err)
	}
}

func TestAllowedTarget(t *testing.T) {
	tests := map[string]struct {
		routes []plan.Route
		want   string
	}{
		"no routes":          {nil, ""},
		"tunnel":             {[]plan.Route{{Host: "github.com", Ports: []int{22, 443}}}, "github.com:22"},
		"intercepted first":  {[]plan.Route{{Host: "github.com", Ports: []int{443}}, {Host: "api.x.com", Ports: []int{443}, Intercept: true}}, "api.x.com:443"},
		"exact before wild":  {[]plan.Route{{Host: "*.x.com", Ports: []int{443}, Intercept: true}, {Host: "y.com", Ports: []int{80}}}, "y.com:80"},
		"wildcard only":      {[]plan.Route{{Host: "*.x.com", Ports: []int{443}}}, "verify-probe.x.com:443"},
		"intercepted tunnel": {[]plan.Route{{Host: "a.com", Ports: []int{443}}, {Host: "b.com", Ports: []int{443}}}, "a.com:443"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := allowedTarget(tt.routes)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("allowedTarget = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestDeniedPortTarget(t *testing.T) {
	tests := map[string]struct {
		routes []plan.Route
		want   string
	}{
		"no routes":            {nil, ""},
		"port 1":               {[]plan.Route{{Host: "a.com", Ports: []int{443}}}, "a.com:1"},
		"port 1 allowed":       {[]plan.Route{{Host: "a.com", Ports: []int{1, 443}}}, "a.com:8443"},
		"allowed by wildcard":  {[]plan.Route{{Host: "a.x.com", Ports: []int{443}}, {Host: "*.x.com", Ports: []int{1, 8443}}}, "a.x.com:65535"},
		"every candidate open": {[]plan.Route{{Host: "a.com", Ports: []int{1, 8443, 65535}}}, ""},
		"wildcards only":       {[]plan.Route{{Host: "*.x.com", Ports: []int{443}}}, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := deniedPortTarget(tt.routes)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("deniedPortTarget = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestRouteAllows(t *testing.T) {
	routes := []plan.Route{{Host: "*.x.com", Ports: []int{443}}, {Host: "Exact.com.", Ports: []int{80}}}
	tests := map[string]struct {
		host string
		port int
		want bool
	}{
		"subdomain":        {"a.x.com", 443, true},
		"deep subdomain":   {"a.b.x.com", 443, true},
		"apex of wildcard": {"x.com", 443, false},
		"wrong port":       {"a.x.com", 80, false},
		"case and dot":     {"exact.COM.", 80, true},
		"suffix lookalike": {"evilx.com", 443, false},
		"denied name":      {DeniedHost, 443, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := routeAllows(routes, tt.host, tt.port); got != tt.want {
				t.Errorf("routeAllows(%s, %d) = %v, want %v", tt.host, tt.port, got, tt.want)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	check := func(kind string, e expectation) Check {
		return Check{Probe: probewire.Target{Name: "n", Kind: kind}, expect: e}
	}
	res := func(kind string, r probewire.Result) probewire.Result {
		r.Name, r.Kind = "n", kind
		return r
	}
	blocked := probewire.Result{Reached: true, Status: 403, Body: "blocked: host x is not in the plan's egress routes\n"}
	tests := map[string]struct {
		check    Check
		result   probewire.Result
		wantPass bool
		wantGot  string
	}{
		"healthy":                  {check(probewire.HTTP, expectHealthy), res(probewire.HTTP, probewire.Result{Reached: true, Status: 200, Body: "ok\n"}), true, "200 ok"},
		"proxy down":               {check(probewire.HTTP, expectHealthy), res(probewire.HTTP, probewire.Result{Error: "dial tcp 10.0.0.2:3128: connect: connection refused"}), false, "refused (the address answered)"},
		"proxy 500":                {check(probewire.HTTP, expectHealthy), res(probewire.HTTP, probewire.Result{Reached: true, Status: 500}), false, "500"},
		"allowed 200":              {check(probewire.Connect, expectAllowed), res(probewire.Connect, probewire.Result{Reached: true, Status: 200}), true, "200"},
		"allowed upstream down":    {check(probewire.Connect, expectAllowed), res(probewire.Connect, probewire.Result{Reached: true, Status: 502, Body: "bottleplan proxy: cannot reach x:443\n"}), true, "502 bottleplan proxy: cannot reach x:443"},
		"allowed but blocked":      {check(probewire.Connect, expectAllowed), res(probewire.Connect, blocked), false, "403 blocked: host x is not in the plan's egress routes"},
		"allowed no proxy":         {check(probewire.Connect, expectAllowed), res(probewire.Connect, probewire.Result{Error: "dial tcp: i/o timeout"}), false, "timeout"},
		"blocked":                  {check(probewire.Connect, expectBlocked), res(probewire.Connect, blocked), true, "403 blocked: host x is not in the plan's egress routes"},
		"403 without blocked":      {check(probewire.Connect, expectBlocked), res(probewire.Connect, probewire.Result{Reached: true, Status: 403, Body: "forbidden"}), false, "403 forbidden"},
		"denied host let through":  {check(probewire.Connect, expectBlocked), res(probewire.Connect, probewire.Result{Reached: true, Status: 200}), false, "200"},
		"push passed to upstream":  {check(probewire.HTTP, expectBlocked), res(probewire.HTTP, probewire.Result{Reached: true, Status: 502, Body: "bottleplan git gate: upstream failed"}), false, "502 bottleplan git gate: upstream failed"},
		"direct timeout":           {check(probewire.TCP, expectNoAnswer), res(probewire.TCP, probewire.Result{Error: "dial tcp 10.0.0.1:22: i/o timeout"}), true, "timeout"},
		"direct unreachable":       {check(probewire.TCP, expectNoAnswer), res(probewire.TCP, probewire.Result{Error: "dial tcp 10.0.0.1:22: connect: no route to host"}), false, "no route to host"},
		"direct no network":        {check(probewire.TCP, expectNoAnswer), res(probewire.TCP, probewire.Result{Error: "dial tcp 1.2.3.4:22: connect: network is unreachable"}), true, "network unreachable"},
		"direct refused":           {check(probewire.TCP, expectNoAnswer), res(probewire.TCP, probewire.Result{Error: "dial tcp 172.17.0.1:22: connect: connection refused"}), false, "refused (the address answered)"},
		"direct connected":         {check(probewire.TCP, expectNoAnswer), res(probewire.TCP, probewire.Result{Reached: true}), false, "connected"},
		"host unreachable":         {check(probewire.TCP, expectNoAnswer), res(probewire.TCP, probewire.Result{Error: "dial tcp 10.0.0.2:3128: connect: no route to host"}), false, "no route to host"},
		"dns silent":               {check(probewire.DNS, expectNoDNS), res(probewire.DNS, probewire.Result{Error: "lookup x on 127.0.0.11:53: dial udp 127.0.0.11:53: i/o timeout"}), true, "timeout"},
		"dns bundle refused":       {check(probewire.DNS, expectNoDNS), res(probewire.DNS, probewire.Result{Error: "lookup x on 127.0.0.11:53: read udp 10.0.0.4:1->10.0.0.2:53: read: connection refused"}), true, "refused (no DNS server there)"},
		"dns nxdomain":             {check(probewire.DNS, expectNoDNS), res(probewire.DNS, probewire.Result{Error: "lookup verify.bottleplan.invalid on 127.0.0.11:53: no such host"}), false, "a resolver answered: no such host"},
		"dns resolved":             {check(probewire.DNS, expectNoDNS), res(probewire.DNS, probewire.Result{Reached: true, Addrs: []string{"93.184.215.14"}}), false, "resolved to 93.184.215.14"},
		"result of another probe":  {check(probewire.TCP, expectNoAnswer), probewire.Result{Name: "other", Kind: probewire.TCP, Error: "i/o timeout"}, false, `no result (the probe runner answered "other"/"tcp")`},
		"runner did not know kind": {check(probewire.TCP, expectNoAnswer), res(probewire.DNS, probewire.Result{Error: "i/o timeout"}), false, `no result (the probe runner answered "n"/"dns")`},
		"odd error":                {check(probewire.TCP, expectNoAnswer), res(probewire.TCP, probewire.Result{Error: "unknown probe kind"}), false, "error: unknown probe kind"},
		"raw socket refused":       {check(probewire.RawSocket, expectNoRawSocket), res(probewire.RawSocket, probewire.Result{Errno: "EPERM", Error: "socket: operation not permitted"}), true, "refused: EPERM"},
		"raw socket opened":        {check(probewire.RawSocket, expectNoRawSocket), res(probewire.RawSocket, probewire.Result{Reached: true}), false, "opened (the agent's side holds CAP_NET_RAW)"},
		"raw socket other errno":   {check(probewire.RawSocket, expectNoRawSocket), res(probewire.RawSocket, probewire.Result{Errno: "EAFNOSUPPORT", Error: "socket: address family not supported by protocol"}), false, "refused: EAFNOSUPPORT"},
		"raw socket old runner":    {check(probewire.RawSocket, expectNoRawSocket), res(probewire.RawSocket, probewire.Result{Error: "unknown probe kind \"raw-socket\""}), false, "error: unknown probe kind \"raw-socket\""},
		"dns servfail":             {check(probewire.DNS, expectNoDNS), res(probewire.DNS, probewire.Result{Error: "lookup x on 127.0.0.11:53: server misbehaving"}), false, "error: lookup x on 127.0.0.11:53: server misbehaving"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			v := Judge("a", tt.check, tt.result)
			if v.Pass != tt.wantPass || v.Got != tt.wantGot {
				t.Errorf("Judge = pass %v, got %q; want pass %v, got %q", v.Pass, v.Got, tt.wantPass, tt.wantGot)
			}
		})
	}
}

// TestJudgeRoutes judges literal routing tables of a probe at
// 10.9.0.4 on 10.9.0.0/28, gateway 10.9.0.1: every path off the subnet
// must cross the gateway.
func TestJudgeRoutes(t *testing.T) {
	c := Check{Probe: probewire.Target{Name: CheckRoutesOut, Kind: probewire.Routes}, expect: expectRoutesOut,
		subnet: netip.MustParsePrefix("10.9.0.0/28"), gateway: netip.MustParseAddr("10.9.0.1")}
	own := probewire.Route{Iface: "eth0", Dest: "10.9.0.0/28", Gateway: "0.0.0.0", Flags: probewire.RouteUp}
	def := probewire.Route{Iface: "eth0", Dest: "0.0.0.0/0", Gateway: "10.9.0.1", Flags: probewire.RouteUp | probewire.RouteGateway}
	tests := map[string]struct {
		routes   []probewire.Route
		err      string
		wantPass bool
		wantGot  string
	}{
		"own link and default via gateway": {[]probewire.Route{def, own}, "", true, "default via 10.9.0.1 on eth0, 10.9.0.0/28 on link eth0"},
		"own link only":                    {[]probewire.Route{own}, "", true, "10.9.0.0/28 on link eth0"},
		"empty table":                      {[]probewire.Route{}, "", true, "no routes"},
		"host route via gateway":           {[]probewire.Route{own, {Iface: "eth0", Dest: "172.17.0.1/32", Gateway: "10.9.0.1", Flags: probewire.RouteUp | probewire.RouteGateway | probewire.RouteHost}}, "", true, "10.9.0.0/28 on link eth0, 172.17.0.1/32 via 10.9.0.1 on eth0"},
		"reject route":                     {[]probewire.Route{own, {Iface: "*", Dest: "0.0.0.0/0", Gateway: "0.0.0.0", Flags: probewire.RouteReject}}, "", true, "10.9.0.0/28 on link eth0, default unreachable"},
		"another network attached": {[]probewire.Route{def, own, {Iface: "eth1", Dest: "172.17.0.0/16", Gateway: "0.0.0.0", Flags: probewire.RouteUp}}, "", false,
			"172.17.0.0/16 on link eth1 (another network)"},
		"default via another gateway": {[]probewire.Route{{Iface: "eth1", Dest: "0.0.0.0/0", Gateway: "172.17.0.1", Flags: probewire.RouteUp | probewire.RouteGateway}, own}, "", false,
			"default via 172.17.0.1 on eth1 (not the instance gateway)"},
		"wider link route":  {[]probewire.Route{{Iface: "eth0", Dest: "10.9.0.0/24", Gateway: "0.0.0.0", Flags: probewire.RouteUp}}, "", false, "10.9.0.0/24 on link eth0 (another network)"},
		"default on link":   {[]probewire.Route{own, {Iface: "eth0", Dest: "0.0.0.0/0", Gateway: "0.0.0.0", Flags: probewire.RouteUp}}, "", false, "default on link eth0 (another network)"},
		"unreadable route":  {[]probewire.Route{own, {Iface: "eth0", Dest: "x", Gateway: "10.9.0.1"}}, "", false, "x via 10.9.0.1 on eth0 (unreadable)"},
		"two wrong at once": {[]probewire.Route{{Iface: "eth1", Dest: "172.17.0.0/16", Gateway: "0.0.0.0", Flags: probewire.RouteUp}, {Iface: "eth1", Dest: "0.0.0.0/0", Gateway: "172.17.0.1", Flags: probewire.RouteUp | probewire.RouteGateway}}, "", false, "172.17.0.0/16 on link eth1 (another network); default via 172.17.0.1 on eth1 (not the instance gateway)"},
		"table not read":    {nil, "read the routing table: open /proc/net/route: no such file or directory", false, "error: read the routing table: open /proc/net/route: no such file or directory"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := probewire.Result{Name: CheckRoutesOut, Kind: probewire.Routes, Reached: tt.err == "", Routes: tt.routes, Error: tt.err}
			v := Judge("a", c, r)
			if v.Pass != tt.wantPass || v.Got != tt.wantGot {
				t.Errorf("Judge = pass %v, got %q; want pass %v, got %q", v.Pass, v.Got, tt.wantPass, tt.wantGot)
			}
			if want := "only 10.9.0.0/28 on link, the rest via 10.9.0.1"; v.Expected != want {
				t.Errorf("expected %q, want %q", v.Expected, want)
			}
		})
	}
}

// TestJudgeAllMissingResult: a runner that answered fewer results than
// asked fails the unanswered checks.
func TestJudgeAllMissingResult(t *testing.T) {
	cs := []Check{
		{Probe: probewire.Target{Name: "x", Kind: probewire.TCP}, expect: expectNoAnswer},
		{Probe: probewire.Target{Name: "y", Kind: probewire.TCP}, expect: expectNoAnswer},
	}
	vs := JudgeAll("a", cs, []probewire.Result{{Name: "x", Kind: probewire.TCP, Error: "i/o timeout"}})
	if !vs[0].Pass || vs[1].Pass {
		t.Errorf("JudgeAll = %+v; want x to pass and y (no result) to fail", vs)
	}
}

func TestAgentChecks(t *testing.T) {
	in := testInstance("a", "10.9.0")
	tests := map[string]struct {
		networks        map[string]string
		dns             []string
		wantNets, wantD bool
		gotNets         string
	}{
		"as planned":        {map[string]string{"p-a-internal": "10.9.0.3"}, []string{"10.9.0.2"}, true, true, "p-a-internal at 10.9.0.3"},
		"default bridge":    {map[string]string{"p-a-internal": "10.9.0.3", "bridge": "172.17.0.5"}, []string{"10.9.0.2"}, false, true, "bridge at 172.17.0.5, p-a-internal at 10.9.0.3"},
		"wrong address":     {map[string]string{"p-a-internal": "10.9.0.9"}, []string{"10.9.0.2"}, false, true, "p-a-internal at 10.9.0.9"},
		"no network":        {nil, []string{"10.9.0.2"}, false, true, "no network"},
		"engine resolver":   {map[string]string{"p-a-internal": "10.9.0.3"}, nil, true, false, "p-a-internal at 10.9.0.3"},
		"a public resolver": {map[string]string{"p-a-internal": "10.9.0.3"}, []string{"10.9.0.2", "8.8.8.8"}, true, false, "p-a-internal at 10.9.0.3"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			vs := AgentChecks(&in, tt.networks, tt.dns)
			if vs[0].Pass != tt.wantNets || vs[0].Got != tt.gotNets || vs[1].Pass != tt.wantD {
				t.Errorf("AgentChecks = %+v", vs)
			}
		})
	}
}

func TestBundleConfigCheck(t *testing.T) {
	in := testInstance("a", "10.9.0")
	if v := BundleConfigCheck(&in, in.ConfigHash.Bundle); !v.Pass {
		t.Errorf("same hash: %+v", v)
	}
	if v := BundleConfigCheck(&in, "sha256:other"); v.Pass || v.Got != "config hash sha256:other" {
		t.Errorf("other hash: %+v", v)
	}
	if v := BundleConfigCheck(&in, ""); v.Pass {
		t.Errorf("no label: %+v", v)
	}
}
