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
		"127.0.0.1":        false,
		"10.231.40.2":      false,
		"172.17.0.1":       false,
		"192.168.1.1":      false,
		"169.254.169.254":  false,
		"100.64.0.1":       false,
		"0.0.0.0":          false,
		"::1":              false,
		"fd00::1":          false,
		"fe80::1":          false,
		"::ffff:127.0.0.1": false,
		"140.82.112.5":     true,
		"2606:4700::1111":  true,
	}
	for addr, want := range tests {
		t.Run(addr, func(t *testing.T) {
			if got := publicAddr(netip.MustParseAddr(addr)); got != want {
				t.Fatalf("publicAddr(%s) = %v, want %v", addr, got, want)
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
