package bundle

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/bottleplan/bottleplan/bundle/probewire"
)

// routeFile is where Linux publishes the main IPv4 routing table.
const routeFile = "/proc/net/route"

func (p *Prober) probeRoutes() ([]probewire.Route, error) {
	name := p.RouteFile
	if name == "" {
		name = routeFile
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read the routing table: %w", err)
	}
	return ParseRoutes(data)
}

// ParseRoutes parses the text of /proc/net/route: a header line, then
// one whitespace-separated line per route whose Destination, Gateway and
// Mask are the kernel's network-order 32-bit words printed as hex
// numbers in host byte order (so "0100090A" is 10.9.0.1 on a
// little-endian machine) and whose Flags are hex RTF_* bits. Columns are
// found by the header's names, not by position.
func ParseRoutes(data []byte) ([]probewire.Route, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("routing table: %w", err)
		}
		return nil, fmt.Errorf("routing table: empty, not even a header")
	}
	col := map[string]int{}
	for i, h := range strings.Fields(sc.Text()) {
		col[h] = i
	}
	for _, h := range []string{"Iface", "Destination", "Gateway", "Flags", "Mask"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("routing table: header %q has no %s column", sc.Text(), h)
		}
	}
	routes := []probewire.Route{}
	for line := 2; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < len(col) {
			return nil, fmt.Errorf("routing table line %d: %d fields, the header names %d", line, len(f), len(col))
		}
		dest, err := hexAddr(f[col["Destination"]])
		if err != nil {
			return nil, fmt.Errorf("routing table line %d: destination: %w", line, err)
		}
		gw, err := hexAddr(f[col["Gateway"]])
		if err != nil {
			return nil, fmt.Errorf("routing table line %d: gateway: %w", line, err)
		}
		mask, err := hexAddr(f[col["Mask"]])
		if err != nil {
			return nil, fmt.Errorf("routing table line %d: mask: %w", line, err)
		}
		m := binary.BigEndian.Uint32(mask.AsSlice())
		ones := bits.LeadingZeros32(^m)
		if m<<ones != 0 {
			return nil, fmt.Errorf("routing table line %d: mask %s is not a prefix", line, mask)
		}
		flags, err := strconv.ParseUint(f[col["Flags"]], 16, 16)
		if err != nil {
			return nil, fmt.Errorf("routing table line %d: flags: %w", line, err)
		}
		routes = append(routes, probewire.Route{
			Iface:   f[col["Iface"]],
			Dest:    netip.PrefixFrom(dest, ones).String(),
			Gateway: gw.String(),
			Flags:   int(flags),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("routing table: %w", err)
	}
	return routes, nil
}

// hexAddr decodes one address column: 8 hex digits whose value, stored
// in host byte order, gives the address's bytes in network order.
func hexAddr(s string) (netip.Addr, error) {
	if len(s) != 8 {
		return netip.Addr{}, fmt.Errorf("%q is not 8 hex digits", s)
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not 8 hex digits", s)
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(v))
	return netip.AddrFrom4(b), nil
}
