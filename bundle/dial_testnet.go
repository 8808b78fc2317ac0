//go:build bottleplan_testnet

package bundle

import "net/netip"

// A bundle built with -tags bottleplan_testnet, and only such a build,
// may dial 203.0.113.0/24 (TEST-NET-3, RFC 5737). The Docker tests build
// their bundle binary this way: their local upstream sits on Engine
// bridges numbered from that block (dockertest.PublicEgress), the only
// addresses a bundle container can reach that are neither private (which
// the production dialer refuses, rightly) nor someone's real public
// address. A release build never has this file, and TestTestNetIsBlocked
// (run without the tag) proves the block holds there.
func init() { testNet = netip.MustParsePrefix("203.0.113.0/24") }
