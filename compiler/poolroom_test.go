package compiler

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/schema"
)

// TestPoolRoomAgreesWithSchema: validation refuses a pool without room
// (so the error gets a position) exactly when allocate would. Random
// small pools, prefixes, agent counts and pins (inside, across and
// outside the pool, some wider than the pool), seeded.
func TestPoolRoomAgreesWithSchema(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	dir := t.TempDir()
	refused := 0
	for trial := range 300 {
		poolBits := 24 + rng.IntN(4)            // /24../27
		prefix := max(poolBits, 26+rng.IntN(4)) // 26..29
		poolCIDR := fmt.Sprintf("10.%d.%d.0/%d", 1+rng.IntN(3), rng.IntN(2)*128, poolBits)
		pool := netip.MustParsePrefix(poolCIDR).Masked()
		p, err := newPool(pool.String(), prefix)
		if err != nil {
			t.Fatal(err)
		}
		var yaml strings.Builder
		fmt.Fprintf(&yaml, "version: 1\ndefaults: {address_pool: %s, subnet_prefix: %d}\nbottles:\n  b: {}\n", pool, prefix)
		var reqs []addrRequest
		var pins []netip.Prefix
		for range 1 + rng.IntN(3) {
			bits := 24 + rng.IntN(6)
			pin := netip.PrefixFrom(pool.Addr(), bits).Masked()
			// Shift it by whole pin sizes: into, across or past the pool.
			a := pin.Addr().As4()
			a[3] += byte(rng.IntN(4) * (1 << (32 - bits)) & 0xff)
			pin = netip.PrefixFrom(netip.AddrFrom4(a), bits).Masked()
			ok := true
			for _, q := range pins {
				ok = ok && !q.Overlaps(pin)
			}
			if !ok {
				continue
			}
			i := len(pins)
			pins = append(pins, pin)
			fmt.Fprintf(&yaml, "  p%d: {network: {subnet: %s}}\n", i, pin)
			reqs = append(reqs, addrRequest{slug: fmt.Sprintf("pin%d", i), bottle: fmt.Sprintf("p%d", i), pin: pin})
		}
		yaml.WriteString("agents:\n")
		for i := range pins {
			fmt.Fprintf(&yaml, "  pin%d: {bottle: p%d}\n", i, i)
		}
		for i := range 1 + rng.IntN(int(p.slots)+2) {
			fmt.Fprintf(&yaml, "  a%d: {bottle: b}\n", i)
			reqs = append(reqs, addrRequest{slug: fmt.Sprintf("a%d", i), bottle: "b"})
		}
		p.salt = "bottleplan"
		_, allocErr := allocate(p, reqs)

		path := filepath.Join(dir, fmt.Sprintf("m%d.yaml", trial))
		if err := os.WriteFile(path, []byte(yaml.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		_, loadErr := schema.Load(path)
		var errs schema.Errors
		if loadErr != nil && !errors.As(loadErr, &errs) {
			t.Fatalf("trial %d: %v", trial, loadErr)
		}
		schemaRefused := false
		for _, e := range errs {
			if strings.Contains(e.Message, "has room for") {
				schemaRefused = true
				if e.Line == 0 || e.Path != "defaults.address_pool" {
					t.Errorf("trial %d: unpositioned: %v", trial, e)
				}
			} else {
				t.Fatalf("trial %d: unexpected error %v\n%s", trial, e, yaml.String())
			}
		}
		if schemaRefused != (allocErr != nil) {
			t.Fatalf("trial %d: schema refused=%v, allocate: %v\n%s", trial, schemaRefused, allocErr, yaml.String())
		}
		if schemaRefused {
			refused++
		}
	}
	if refused < 30 || refused > 270 {
		t.Fatalf("%d of 300 trials refused: the generator does not exercise both sides", refused)
	}
	t.Logf("%d of 300 trials refused", refused)
}
