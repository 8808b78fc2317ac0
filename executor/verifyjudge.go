package executor

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/bottleplan/bottleplan/bundle/probewire"
	"github.com/bottleplan/bottleplan/plan"
)

// VerifyResult is one line of verify's report.
type VerifyResult struct {
	Instance string `json:"instance"`
	// Name is the check name (one of the Check constants, with
	// "/<what>" for checks repeated per repo, host or instance).
	Name string `json:"name"`
	// Target is what was probed, in words.
	Target string `json:"target"`
	// Expected is what the check must see.
	Expected string `json:"expected"`
	// Got is what it saw.
	Got  string `json:"got"`
	Pass bool   `json:"pass"`
}

// Judge turns a probe runner result into a report line. A result whose
// name or kind does not match the check fails: the runner must answer
// what was asked.
func Judge(slug string, c Check, r probewire.Result) VerifyResult {
	v := VerifyResult{Instance: slug, Name: c.Probe.Name, Target: c.Target, Expected: c.Expected()}
	if r.Name != c.Probe.Name || r.Kind != c.Probe.Kind {
		v.Got = fmt.Sprintf("no result (the probe runner answered %q/%q)", r.Name, r.Kind)
		return v
	}
	v.Got = describe(r)
	switch c.expect {
	case expectHealthy:
		v.Pass = r.Reached && r.Status == 200
	case expectAllowed:
		v.Pass = r.Reached && r.Status != 0 && !isBlocked(r)
	case expectBlocked:
		v.Pass = isBlocked(r)
	case expectNoAnswer:
		// Silence, or no route from the probe's own routing table. A
		// refusal, and an ICMP unreachable within the timeout (ARP for a
		// missing neighbour takes longer), mean something answered.
		v.Pass = !r.Reached && (isTimeout(r.Error) || strings.Contains(r.Error, "network is unreachable"))
	case expectNoDNS:
		// Silence or a refusal from the server asked; NXDOMAIN,
		// SERVFAIL or any other answer means a resolver is reachable.
		v.Pass = !r.Reached && (isTimeout(r.Error) || answered(r.Error))
	case expectRoutesOut:
		// A table that could not be read fails with the runner's error.
		if r.Reached {
			v.Pass, v.Got = judgeRoutes(r.Routes, c.subnet, c.gateway)
		}
	case expectNoRawSocket:
		// Only the capability check's EPERM; an opened socket, or a
		// refusal for another reason, proves nothing about NET_RAW.
		v.Pass = !r.Reached && r.Errno == "EPERM"
	}
	return v
}

// judgeRoutes passes routes when each is the link route of subnet, goes
// via gateway, or is a reject route, so that every path off the subnet
// crosses the gateway (see routes-out in verify.go). got lists the
// routes, or only the offending ones when any is, each saying why.
func judgeRoutes(routes []probewire.Route, subnet netip.Prefix, gateway netip.Addr) (pass bool, got string) {
	var all, bad []string
	for _, rt := range routes {
		dest, derr := netip.ParsePrefix(rt.Dest)
		gw, gerr := netip.ParseAddr(rt.Gateway)
		where := rt.Dest
		if derr == nil && dest.Bits() == 0 {
			where = "default"
		}
		var desc, why string
		switch {
		case derr != nil || gerr != nil:
			desc, why = fmt.Sprintf("%s via %s on %s", rt.Dest, rt.Gateway, rt.Iface), "unreadable"
		case rt.Flags&probewire.RouteReject != 0:
			desc = where + " unreachable"
		case gw.IsUnspecified():
			desc = where + " on link " + rt.Iface
			if dest != subnet {
				why = "another network"
			}
		default:
			desc = where + " via " + gw.String() + " on " + rt.Iface
			if gw != gateway {
				why = "not the instance gateway"
			}
		}
		all = append(all, desc)
		if why != "" {
			bad = append(bad, desc+" ("+why+")")
		}
	}
	switch {
	case len(bad) > 0:
		return false, strings.Join(bad, "; ")
	case len(all) == 0:
		return true, "no routes"
	}
	return true, strings.Join(all, ", ")
}

// isBlocked reports whether r is the bundle's denial: 403 with a body
// starting "blocked:".
func isBlocked(r probewire.Result) bool {
	return r.Reached && r.Status == 403 && strings.HasPrefix(r.Body, "blocked:")
}

// answered reports whether a failed dial still heard from the address:
// a refusal is an RST (or an ICMP port unreachable) from the host.
func answered(err string) bool {
	return strings.Contains(err, "connection refused") || strings.Contains(err, "connection reset")
}

func isTimeout(err string) bool {
	return strings.Contains(err, "i/o timeout") || strings.Contains(err, "deadline exceeded")
}

// describe says what a probe saw in a few words.
func describe(r probewire.Result) string {
	switch {
	case r.Kind == probewire.RawSocket && r.Reached:
		return "opened (the agent's side holds CAP_NET_RAW)"
	case r.Kind == probewire.RawSocket && r.Errno != "":
		return "refused: " + r.Errno
	case r.Kind == probewire.DNS && r.Reached:
		return "resolved to " + strings.Join(r.Addrs, ", ")
	case r.Kind == probewire.DNS && strings.Contains(r.Error, "no such host"):
		return "a resolver answered: no such host"
	case r.Kind == probewire.DNS && answered(r.Error):
		return "refused (no DNS server there)"
	case r.Reached && r.Status != 0:
		s := fmt.Sprintf("%d", r.Status)
		if b := firstLine(r.Body); b != "" {
			s += " " + b
		}
		return s
	case r.Reached:
		return "connected"
	case answered(r.Error):
		return "refused (the address answered)"
	case isTimeout(r.Error):
		return "timeout"
	case strings.Contains(r.Error, "network is unreachable"):
		return "network unreachable"
	case strings.Contains(r.Error, "no route to host"):
		return "no route to host"
	}
	return "error: " + r.Error
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return strings.TrimSpace(s)
}

// JudgeAll pairs checks with the runner's results (in the same order)
// and judges each; a missing result fails its check.
func JudgeAll(slug string, cs []Check, rs []probewire.Result) []VerifyResult {
	out := make([]VerifyResult, len(cs))
	for i, c := range cs {
		r := probewire.Result{}
		if i < len(rs) {
			r = rs[i]
		}
		out[i] = Judge(slug, c, r)
	}
	return out
}

// AgentChecks judges the agent container's config: attached to exactly
// the internal network, at agent_ip (networks maps network name to
// address), and resolving through the bundle only (dns is the
// container's DNS servers). Agents are not probed from inside: these are
// read from the Engine.
func AgentChecks(in *plan.Instance, networks map[string]string, dns []string) []VerifyResult {
	nw := in.Network
	want := fmt.Sprintf("only %s at %s", nw.InternalName, nw.AgentIP)
	var got []string
	for _, n := range slices.Sorted(maps.Keys(networks)) {
		got = append(got, n+" at "+orNone(networks[n]))
	}
	gotNets := strings.Join(got, ", ")
	if gotNets == "" {
		gotNets = "no network"
	}
	ok := len(networks) == 1 && networks[nw.InternalName] == nw.AgentIP
	dnsWant := "[" + nw.BundleIP + "]"
	d := append([]string(nil), dns...)
	sort.Strings(d)
	dnsGot := "[" + strings.Join(d, " ") + "]"
	return []VerifyResult{
		{Instance: in.Slug, Name: CheckAgentNetworks, Target: "container " + in.Agent.ContainerName, Expected: want, Got: gotNets, Pass: ok},
		{Instance: in.Slug, Name: CheckAgentDNS, Target: "container " + in.Agent.ContainerName, Expected: dnsWant, Got: dnsGot, Pass: dnsGot == dnsWant},
	}
}

// BundleConfigCheck judges whether the live bundle was created from this
// plan's bundle config: its config-hash label against the plan's. A
// mismatch means the probes test another plan's policy (apply has not
// run since the plan changed). Changes made inside the container leave
// the label as it was; the probes are what catch those.
func BundleConfigCheck(in *plan.Instance, liveHash string) VerifyResult {
	return VerifyResult{
		Instance: in.Slug, Name: CheckBundleConfig, Target: "container " + in.Bundle.ContainerName,
		Expected: "config hash " + in.ConfigHash.Bundle, Got: "config hash " + orNone(liveHash),
		Pass: liveHash == in.ConfigHash.Bundle,
	}
}
