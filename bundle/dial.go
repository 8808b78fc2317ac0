package bundle

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// DialFunc opens a connection to an upstream "host:port". The proxy and
// the git gate dial every upstream through one; tests inject their own to
// map a route host onto a loopback test server.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// blockedPrefixes are address ranges the bundle never connects to, even
// when an allowed host name resolves there. Checking the address actually
// dialled, not the name, defeats DNS answers that point an allowed name
// inward. The list is every entry of the IANA IPv4 and IPv6
// Special-Purpose Address Registries (iana-ipv4-special-registry,
// iana-ipv6-special-registry, RFC 6890 as updated by RFC 8190) whose
// "Globally Reachable" is not True, plus:
//   - global entries that embed or relay IPv4 (NAT64, 6to4, Teredo) or
//     are anycast services no agent needs (they sit inside a blocked
//     parent: 192.0.0.9/32 and 192.0.0.10/32 in 192.0.0.0/24, the
//     2001:1::/48 anycasts, AMT, AS112-v6, ORCHIDv2 and DETs in
//     2001::/23);
//   - deprecated or embedding forms: IPv4-compatible ::a.b.c.d,
//     IPv4-translated ::ffff:0:a.b.c.d, site-local fec0::/10, the 6to4
//     relay anycast 192.88.99.0/24;
//   - multicast (224.0.0.0/4, ff00::/8, from the multicast registries);
//   - everything outside 2000::/3, the only IPv6 block the IANA IPv6
//     Address Space registry allocates for global unicast, so a range
//     the special registry adds later outside it is blocked already;
//   - cloud metadata services, listed by address even when a range
//     covers them, so narrowing a range never reopens one.
//
// The registry's IPv4-mapped entry (::ffff:0:0/96) is not listed: a
// mapped address ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket, so
// publicAddr unmaps it and checks the IPv4 address. A zone
// (fe80::1%eth0) is dropped before the check: netip.Prefix.Contains is
// false for every zoned address.
var blockedPrefixes = mustPrefixes(
	// IANA IPv4 Special-Purpose Address Registry.
	"0.0.0.0/8",       // "this network" (and 0.0.0.0/32 "this host")
	"10.0.0.0/8",      // private-use
	"100.64.0.0/10",   // shared address space (carrier-grade NAT)
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link local
	"172.16.0.0/12",   // private-use
	"192.0.0.0/24",    // IETF protocol assignments (service continuity, dummy, PCP/TURN anycast, NAT64 discovery)
	"192.0.2.0/24",    // documentation (TEST-NET-1)
	"192.88.99.0/24",  // deprecated 6to4 relay anycast
	"192.168.0.0/16",  // private-use
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation (TEST-NET-2)
	"203.0.113.0/24",  // documentation (TEST-NET-3)
	"240.0.0.0/4",     // reserved
	"255.255.255.255/32",
	// IPv4 multicast.
	"224.0.0.0/4",

	// IANA IPv6 Special-Purpose Address Registry.
	"::/128",         // unspecified
	"::1/128",        // loopback
	"64:ff9b::/96",   // IPv4-IPv6 translation (NAT64, global but embeds IPv4)
	"64:ff9b:1::/48", // IPv4-IPv6 translation, local use
	"100::/64",       // discard-only
	"100:0:0:1::/64", // dummy IPv6 prefix
	"2001::/23",      // IETF protocol assignments (TEREDO 2001::/32, benchmarking 2001:2::/48, ORCHID, ...)
	"2001:db8::/32",  // documentation
	"2002::/16",      // 6to4 (embeds IPv4)
	"3fff::/20",      // documentation
	"5f00::/16",      // segment routing (SRv6) SIDs
	"fc00::/7",       // unique-local
	"fe80::/10",      // link-local unicast
	// Deprecated and embedding IPv6 forms.
	"::/96",           // IPv4-compatible ::a.b.c.d (RFC 4291)
	"::ffff:0:0:0/96", // IPv4-translated ::ffff:0:a.b.c.d (RFC 2765)
	"fec0::/10",       // site-local (RFC 3879)
	// IPv6 multicast.
	"ff00::/8",
	// Outside 2000::/3, the global unicast block.
	"::/3", "4000::/2", "8000::/1",

	// Cloud metadata and host agents.
	"169.254.169.254/32", // AWS, GCP, Azure IMDS, OpenStack, DigitalOcean, ...
	"169.254.170.2/32",   // AWS ECS task metadata
	"168.63.129.16/32",   // Azure wireserver and DNS (public space)
	"100.100.100.200/32", // Alibaba Cloud
	"192.0.0.192/32",     // Oracle Cloud
	"fd00:ec2::254/128",  // AWS IMDS over IPv6
	"fd20:ce::254/128",   // GCP metadata over IPv6
)

func mustPrefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

// testNet is the one blocked range a test build may dial; it is the
// zero Prefix (containing nothing) except in a binary built with the
// bottleplan_testnet tag (dial_testnet.go).
var testNet netip.Prefix

// publicAddr reports whether a is outside every blocked range.
func publicAddr(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	if !a.IsValid() {
		return false
	}
	if testNet.Contains(a) {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// PublicDialer returns the production DialFunc: a plain TCP dialer that
// refuses, at connect time, any address that is not public.
func PublicDialer() DialFunc {
	d := &net.Dialer{
		Timeout:   15 * time.Second,
		KeepAlive: 30 * time.Second,
		Control:   dialControl,
	}
	return d.DialContext
}

// dialControl is the dialer's Control func: it runs after name
// resolution, on the address about to be connected, and refuses it
// unless it is public.
func dialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	if !publicAddr(ap.Addr()) {
		return fmt.Errorf("dial %s: address is not public; the bundle never connects inward", address)
	}
	return nil
}
