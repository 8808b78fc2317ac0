package bundle

import (
	"net/netip"
	"strings"
	"testing"
)

// The SSRF attacks: an allowed route host whose DNS answer the agent can
// influence (a wildcard route, a host on a domain it controls through a
// third party, a rebinding resolver) is pointed at an address that
// reaches inward. The production dialer's Control func sees the address
// actually about to be connected, so each attack calls it directly with
// that address: nothing is dialled, inside or out.

// refusedByDialer fails t for every address the dialer's Control func
// would connect to.
func refusedByDialer(t *testing.T, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		ap := netip.AddrPortFrom(netip.MustParseAddr(a), 443)
		err := dialControl("tcp", ap.String(), nil)
		if err == nil || !strings.Contains(err.Error(), "not public") {
			t.Errorf("dial %s: the dialer would connect (err %v); it must refuse an address that is not public", ap, err)
		}
	}
}

// NAT64 (RFC 6052): on a network with a NAT64 gateway, 64:ff9b::a.b.c.d
// is a.b.c.d, so the well-known prefix reaches the metadata service and
// loopback of the gateway's side. The local-use prefix is not global at
// all.
func TestAttackSSRFNAT64(t *testing.T) {
	refusedByDialer(t,
		"64:ff9b::a9fe:a9fe", // 169.254.169.254
		"64:ff9b::7f00:1",    // 127.0.0.1
		"64:ff9b::a00:1",     // 10.0.0.1
		"64:ff9b:1::a00:1",   // local-use prefix
	)
}

// 6to4 (RFC 3056) embeds an IPv4 address in 2002::/16, and its relays
// (192.88.99.0/24, deprecated) unwrap it.
func TestAttackSSRF6to4(t *testing.T) {
	refusedByDialer(t,
		"2002:a9fe:a9fe::1", // 169.254.169.254
		"2002:7f00:1::1",    // 127.0.0.1
		"192.88.99.1",
	)
}

// Teredo (RFC 4380) tunnels IPv6 over UDP/IPv4 through a relay; 2001::/32
// is inside the IETF protocol assignments block 2001::/23.
func TestAttackSSRFTeredo(t *testing.T) {
	refusedByDialer(t, "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::1")
}

// IPv4-compatible (::a.b.c.d, deprecated by RFC 4291) and IPv4-translated
// (::ffff:0:a.b.c.d, RFC 2765) addresses carry an IPv4 address that some
// stacks still route to.
func TestAttackSSRFIPv4Compatible(t *testing.T) {
	refusedByDialer(t,
		"::7f00:1",        // ::127.0.0.1
		"::a9fe:a9fe",     // ::169.254.169.254
		"::ffff:0:7f00:1", // ::ffff:0:127.0.0.1
		"::ffff:0:a9fe:a9fe",
	)
}

// Site-local (fec0::/10) is deprecated (RFC 3879) but still a local scope
// where configured.
func TestAttackSSRFSiteLocal(t *testing.T) {
	refusedByDialer(t, "fec0::1", "feff::1")
}

// Cloud metadata and host agents that sit on public-looking or otherwise
// special addresses.
func TestAttackSSRFCloudMetadata(t *testing.T) {
	refusedByDialer(t,
		"168.63.129.16",   // Azure wireserver (and its DNS)
		"169.254.169.254", // AWS, GCP, Azure IMDS, OpenStack, ...
		"169.254.170.2",   // AWS ECS task metadata
		"fd00:ec2::254",   // AWS IMDS over IPv6
		"100.100.100.200", // Alibaba Cloud
		"192.0.0.192",     // Oracle Cloud
	)
}

// The documentation ranges (RFC 5737, RFC 3849, RFC 9637) are never
// anyone's public service; the old comment said they were blocked.
func TestAttackSSRFDocumentation(t *testing.T) {
	refusedByDialer(t, "192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1", "3fff::1")
}

// A link-local address with a zone ("fe80::1%eth0") names the same
// neighbour; netip.Prefix.Contains is false for any zoned address, so the
// zone must not let it through.
func TestAttackSSRFZonedLinkLocal(t *testing.T) {
	for _, a := range []string{"[fe80::1%eth0]:443", "[fe80::a9fe:a9fe%1]:80", "[ff02::1%eth0]:443"} {
		if err := dialControl("tcp6", a, nil); err == nil || !strings.Contains(err.Error(), "not public") {
			t.Errorf("dial %s: the dialer would connect (err %v); it must refuse an address that is not public", a, err)
		}
	}
}

// The rest of the IPv6 special-purpose registry that is not globally
// reachable: discard-only, benchmarking, ORCHID, segment routing SIDs,
// and IANA's unallocated space outside 2000::/3.
func TestAttackSSRFOtherSpecialIPv6(t *testing.T) {
	refusedByDialer(t,
		"100::1",       // discard-only
		"100:0:0:1::1", // dummy prefix
		"2001:2::1",    // benchmarking
		"2001:10::1",   // ORCHID (deprecated)
		"5f00::1",      // SRv6 SIDs
		"4000::1",      // unallocated
		"e000::1",      // unallocated
	)
}
