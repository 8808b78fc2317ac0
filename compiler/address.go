package compiler

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Address allocation.
//
// The pool is cut into slots of /subnet_prefix, numbered from 0. Each
// unpinned instance has a preferred slot, sha256(project + "/" + slug)
// mod the slot count, and takes the first free slot at or after it (linear probing, wrapping
// at the end of the pool). Pinned subnets are placed first and block
// every slot they overlap, so no pin is ever handed to another instance.
// Unpinned instances are placed in (preferred slot, slug) order, which
// does not depend on map order or on the order agents are written in.
//
// Stability: linear probing fills the same set of slots whatever the
// insertion order, and an instance always lands in the run of occupied
// slots that contains its preferred slot. Adding an instance therefore
// occupies exactly one more slot, and only instances in the run of
// occupied slots where the newcomer lands can move (they collided with
// it); every other instance keeps its subnet. Removing an instance is the
// same argument backwards. With the default pool (/16 of /28, 4096 slots)
// and a few dozen instances, runs are almost always of length one.
//
// Addresses inside a subnet are fixed offsets: gateway .1, bundle .2,
// agent .3, probe .4 (offsets from the subnet's first address, so a /28
// at 10.231.0.16 has its bundle at 10.231.0.18).

// Host offsets inside an instance subnet.
const (
	offsetGateway = 1
	offsetBundle  = 2
	offsetAgent   = 3
	offsetProbe   = 4
)

// addrRequest is one instance asking for a subnet.
type addrRequest struct {
	slug   string
	bottle string
	// pin is the bottle's pinned subnet; invalid (zero) when unpinned.
	pin netip.Prefix
}

// pool is the address pool cut into slots.
type pool struct {
	prefix netip.Prefix
	bits   int    // subnet_prefix
	slots  uint32 // number of slots
	base   uint32 // first address of the pool
	// salt is the project name, hashed with each slug so that two
	// projects sharing a pool on one host (both with an agent "dev") do
	// not prefer the same subnet.
	salt string
}

func newPool(cidr string, subnetPrefix int) (pool, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return pool{}, fmt.Errorf("address_pool %q is not an IPv4 CIDR", cidr)
	}
	if p.Masked() != p {
		return pool{}, fmt.Errorf("address_pool %s is not aligned to its prefix; use %s", cidr, p.Masked())
	}
	if subnetPrefix < 24 || subnetPrefix > 29 {
		return pool{}, fmt.Errorf("subnet_prefix %d is outside 24..29", subnetPrefix)
	}
	if subnetPrefix < p.Bits() {
		return pool{}, fmt.Errorf("address_pool %s is smaller than one /%d subnet; widen address_pool or raise subnet_prefix", cidr, subnetPrefix)
	}
	return pool{
		prefix: p,
		bits:   subnetPrefix,
		slots:  1 << (subnetPrefix - p.Bits()),
		base:   u32(p.Addr()),
	}, nil
}

// slotSize is the number of addresses in one slot.
func (p pool) slotSize() uint32 { return 1 << (32 - p.bits) }

// subnet returns slot i as a prefix.
func (p pool) subnet(i uint32) netip.Prefix {
	return netip.PrefixFrom(ip4(p.base+i*p.slotSize()), p.bits)
}

// preferred is the slot an unpinned instance tries first.
func (p pool) preferred(slug string) uint32 {
	h := sha256.Sum256([]byte(p.salt + "/" + slug))
	return uint32(binary.BigEndian.Uint64(h[:8]) % uint64(p.slots))
}

// blocked returns the slots that pin overlaps (none when it lies outside
// the pool).
func (p pool) blocked(pin netip.Prefix) []uint32 {
	if !p.prefix.Overlaps(pin) {
		return nil
	}
	first, last := rangeOf(pin)
	pfirst, plast := rangeOf(p.prefix)
	first, last = max(first, pfirst), min(last, plast)
	var out []uint32
	for i := (first - p.base) / p.slotSize(); i <= (last-p.base)/p.slotSize(); i++ {
		out = append(out, i)
	}
	return out
}

// allocate returns each request's subnet by slug. Pins are checked for
// collisions (two agents naming one pinned bottle, or overlapping pins),
// and the pool must hold a free slot for every unpinned request.
func allocate(p pool, reqs []addrRequest) (map[string]netip.Prefix, error) {
	out := make(map[string]netip.Prefix, len(reqs))
	var pinned, free []addrRequest
	for _, r := range reqs {
		if r.pin.IsValid() {
			pinned = append(pinned, r)
		} else {
			free = append(free, r)
		}
	}
	if err := checkPins(pinned); err != nil {
		return nil, err
	}

	occupied := make(map[uint32]struct{}, len(reqs))
	for _, r := range pinned {
		out[r.slug] = r.pin
		for _, i := range p.blocked(r.pin) {
			occupied[i] = struct{}{}
		}
	}
	available := uint64(p.slots) - uint64(len(occupied))
	if uint64(len(free)) > available {
		blocked := ""
		if len(occupied) > 0 {
			blocked = fmt.Sprintf(", %d of them blocked by pinned subnets,", len(occupied))
		}
		return nil, fmt.Errorf("address_pool %s has room for %d subnets of /%d%s but %d are needed, one per agent without a pinned subnet; widen address_pool or raise subnet_prefix",
			p.prefix, p.slots, p.bits, blocked, len(free))
	}

	type placing struct {
		slug string
		pref uint32
	}
	order := make([]placing, len(free))
	for k, r := range free {
		order[k] = placing{r.slug, p.preferred(r.slug)}
	}
	sort.Slice(order, func(a, b int) bool {
		if order[a].pref != order[b].pref {
			return order[a].pref < order[b].pref
		}
		return order[a].slug < order[b].slug
	})
	for _, o := range order {
		i := o.pref
		for {
			if _, taken := occupied[i]; !taken {
				break
			}
			i++
			if i == p.slots {
				i = 0
			}
		}
		occupied[i] = struct{}{}
		out[o.slug] = p.subnet(i)
	}
	return out, nil
}

// checkPins reports agents whose pinned subnets overlap. Two agents that
// name the same pinned bottle collide too: a subnet holds one instance,
// so the fix is a bottle per agent (each extending a shared parent and
// pinning its own subnet).
func checkPins(pinned []addrRequest) error {
	sorted := append([]addrRequest(nil), pinned...)
	sort.Slice(sorted, func(a, b int) bool {
		fa, _ := rangeOf(sorted[a].pin)
		fb, _ := rangeOf(sorted[b].pin)
		if fa != fb {
			return fa < fb
		}
		return sorted[a].slug < sorted[b].slug
	})
	var msgs []string
	for i := range sorted {
		_, lastI := rangeOf(sorted[i].pin)
		for j := i + 1; j < len(sorted); j++ {
			firstJ, _ := rangeOf(sorted[j].pin)
			if firstJ > lastI {
				break
			}
			a, b := sorted[i], sorted[j]
			if a.slug > b.slug {
				a, b = b, a
			}
			if a.bottle == b.bottle {
				msgs = append(msgs, fmt.Sprintf("agents %q and %q both run in bottle %q, which pins subnet %s; a subnet holds one instance: give each agent its own bottle (extending %q) with its own network.subnet",
					a.slug, b.slug, a.bottle, a.pin, a.bottle))
			} else {
				msgs = append(msgs, fmt.Sprintf("agents %q (bottle %q, subnet %s) and %q (bottle %q, subnet %s) pin overlapping subnets; pin disjoint subnets",
					a.slug, a.bottle, a.pin, b.slug, b.bottle, b.pin))
			}
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	sort.Strings(msgs)
	return fmt.Errorf("%s", strings.Join(msgs, "\n"))
}

// parsePin parses a bottle's pinned subnet.
func parsePin(bottle, cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("bottle %q: network.subnet %q is not an IPv4 CIDR", bottle, cidr)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("bottle %q: network.subnet %s is not aligned to its prefix; use %s", bottle, cidr, p.Masked())
	}
	if p.Bits() < 24 || p.Bits() > 29 {
		return netip.Prefix{}, fmt.Errorf("bottle %q: network.subnet %s: prefix must be 24..29", bottle, cidr)
	}
	return p, nil
}

// host returns the address at offset n inside subnet.
func host(subnet netip.Prefix, n uint32) string {
	return ip4(u32(subnet.Addr()) + n).String()
}

// rangeOf returns the first and last address of p as integers.
func rangeOf(p netip.Prefix) (first, last uint32) {
	first = u32(p.Masked().Addr())
	return first, first + (1<<(32-p.Bits()) - 1)
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func ip4(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}
