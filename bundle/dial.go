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
// when an allowed host name resolves there: loopback, link-local (cloud
// metadata lives at 169.254.169.254), private and shared ranges (the
// Docker host and other bottles), and the unspecified, multicast and
// documentation ranges. Checking the address actually dialled, not the
// name, defeats DNS answers that point an allowed name inward.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}

// publicAddr reports whether a is outside every blocked range.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
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
