package bundle

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestPublicAddr(t *testing.T) {
	tests := map[string]bool{
		"127.0.0.1":           false,
		"10.231.40.2":         false,
		"172.17.0.1":          false,
		"192.168.1.1":         false,
		"169.254.169.254":     false,
		"100.64.0.1":          false,
		"0.0.0.0":             false,
		"::1":                 false,
		"fd00::1":             false,
		"fe80::1":             false,
		"fe80::1%eth0":        false,
		"::ffff:127.0.0.1":    false,
		"140.82.112.5":        true,
		"::ffff:140.82.112.5": true, // the same destination as 140.82.112.5
		"2606:4700::1111":     true,
		"2a00:1450:4001::1":   true,
		"192.31.196.1":        true, // AS112-v4: globally reachable
		"192.175.48.1":        true, // AS112 direct delegation: globally reachable
	}
	for addr, want := range tests {
		t.Run(addr, func(t *testing.T) {
			if got := publicAddr(netip.MustParseAddr(addr)); got != want {
				t.Fatalf("publicAddr(%s) = %v, want %v", addr, got, want)
			}
		})
	}
	if publicAddr(netip.Addr{}) {
		t.Fatal("publicAddr(zero Addr) = true, want false")
	}
}

// TestBlockedRanges has one row per blocked range: an address inside is
// refused, and the neighbours just outside it, where they are public, are
// allowed (none is listed where every neighbour is blocked too). Every
// entry of blockedPrefixes must have a row.
func TestBlockedRanges(t *testing.T) {
	tests := map[string]struct {
		inside  []string
		outside []string
	}{
		"0.0.0.0/8":          {[]string{"0.0.0.0", "0.255.255.255"}, []string{"1.0.0.0"}},
		"10.0.0.0/8":         {[]string{"10.0.0.1"}, []string{"9.255.255.255", "11.0.0.0"}},
		"100.64.0.0/10":      {[]string{"100.64.0.1", "100.127.255.255"}, []string{"100.63.255.255", "100.128.0.0"}},
		"127.0.0.0/8":        {[]string{"127.0.0.1", "127.1.2.3"}, []string{"126.255.255.255", "128.0.0.0"}},
		"169.254.0.0/16":     {[]string{"169.254.0.1"}, []string{"169.253.255.255", "169.255.0.0"}},
		"172.16.0.0/12":      {[]string{"172.16.0.1", "172.31.255.255"}, []string{"172.15.255.255", "172.32.0.0"}},
		"192.0.0.0/24":       {[]string{"192.0.0.8", "192.0.0.9", "192.0.0.170"}, []string{"191.255.255.255", "192.0.1.0"}},
		"192.0.2.0/24":       {[]string{"192.0.2.1"}, []string{"192.0.1.255", "192.0.3.0"}},
		"192.88.99.0/24":     {[]string{"192.88.99.1"}, []string{"192.88.98.255", "192.88.100.0"}},
		"192.168.0.0/16":     {[]string{"192.168.1.1"}, []string{"192.167.255.255", "192.169.0.0"}},
		"198.18.0.0/15":      {[]string{"198.18.0.1", "198.19.255.255"}, []string{"198.17.255.255", "198.20.0.0"}},
		"198.51.100.0/24":    {[]string{"198.51.100.1"}, []string{"198.51.99.255", "198.51.101.0"}},
		"203.0.113.0/24":     {[]string{"203.0.113.1"}, []string{"203.0.112.255", "203.0.114.0"}},
		"240.0.0.0/4":        {[]string{"240.0.0.1", "255.255.255.254"}, nil},
		"255.255.255.255/32": {[]string{"255.255.255.255"}, nil},
		"224.0.0.0/4":        {[]string{"224.0.0.1", "239.255.255.250"}, []string{"223.255.255.255"}},

		"::/128":          {[]string{"::"}, nil},
		"::1/128":         {[]string{"::1"}, nil},
		"::ffff:0:0/96":   {[]string{"::ffff:127.0.0.1", "::ffff:169.254.169.254"}, nil}, // unmapped, then IPv4 rows
		"64:ff9b::/96":    {[]string{"64:ff9b::a9fe:a9fe", "64:ff9b::8.8.8.8"}, nil},
		"64:ff9b:1::/48":  {[]string{"64:ff9b:1::a00:1"}, nil},
		"100::/64":        {[]string{"100::1"}, nil},
		"100:0:0:1::/64":  {[]string{"100:0:0:1::1"}, nil},
		"2001::/23":       {[]string{"2001::1", "2001:1::1", "2001:2::1", "2001:3::1", "2001:4:112::1", "2001:20::1", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:200::"}},
		"2001:db8::/32":   {[]string{"2001:db8::1"}, []string{"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::"}},
		"2002::/16":       {[]string{"2002:a9fe:a9fe::1"}, []string{"2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2003::"}},
		"3fff::/20":       {[]string{"3fff::1", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff:1000::"}},
		"5f00::/16":       {[]string{"5f00::1"}, nil},
		"fc00::/7":        {[]string{"fc00::1", "fd12:3456::1"}, nil},
		"fe80::/10":       {[]string{"fe80::1"}, nil},
		"::/96":           {[]string{"::7f00:1", "::8.8.8.8"}, nil},
		"::ffff:0:0:0/96": {[]string{"::ffff:0:7f00:1"}, nil},
		"fec0::/10":       {[]string{"fec0::1"}, nil},
		"ff00::/8":        {[]string{"ff02::1", "ff0e::1"}, nil},
		"::/3":            {[]string{"1fff::1"}, []string{"2000::"}},
		"4000::/2":        {[]string{"4000::1"}, []string{"3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
		"8000::/1":        {[]string{"8000::1", "e000::1"}, nil},

		"169.254.169.254/32": {[]string{"169.254.169.254"}, nil},
		"169.254.170.2/32":   {[]string{"169.254.170.2"}, nil},
		"168.63.129.16/32":   {[]string{"168.63.129.16"}, []string{"168.63.129.15", "168.63.129.17"}},
		"100.100.100.200/32": {[]string{"100.100.100.200"}, nil},
		"192.0.0.192/32":     {[]string{"192.0.0.192"}, nil},
		"fd00:ec2::254/128":  {[]string{"fd00:ec2::254"}, nil},
		"fd20:ce::254/128":   {[]string{"fd20:ce::254"}, nil},
	}
	for _, p := range blockedPrefixes {
		if _, ok := tests[p.String()]; !ok {
			t.Errorf("blocked range %s has no row in this table", p)
		}
	}
	for rng, tt := range tests {
		t.Run(rng, func(t *testing.T) {
			p := netip.MustParsePrefix(rng)
			for _, s := range tt.inside {
				a := netip.MustParseAddr(s)
				if !p.Contains(a) {
					t.Errorf("%s is not inside %s: fix the row", a, p)
				}
				if publicAddr(a) {
					t.Errorf("publicAddr(%s) = true, want false (inside %s)", a, p)
				}
			}
			for _, s := range tt.outside {
				a := netip.MustParseAddr(s)
				if p.Contains(a) {
					t.Errorf("%s is inside %s: fix the row", a, p)
				}
				if !publicAddr(a) {
					t.Errorf("publicAddr(%s) = false, want true (a public neighbour of %s)", a, p)
				}
			}
		})
	}
}

// The production dialer refuses loopback even when something listens
// there: an allowed name resolving inward must not become a way in.
func TestPublicDialerRefusesLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = PublicDialer()(context.Background(), "tcp", ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "not public") {
		t.Fatalf("dial loopback: %v", err)
	}
}

// TestTestNetIsBlocked: the Docker tests' bundle may dial TEST-NET-3
// (dial_testnet.go, built only with -tags bottleplan_testnet); any other
// build, this test's included, must refuse it like every documentation
// range.
func TestTestNetIsBlocked(t *testing.T) {
	if testNet.IsValid() {
		t.Skip("built with -tags bottleplan_testnet")
	}
	for _, a := range []string{"203.0.113.1", "203.0.113.200", "::ffff:203.0.113.5"} {
		if publicAddr(netip.MustParseAddr(a)) {
			t.Errorf("%s is dialable in a release build", a)
		}
	}
}
