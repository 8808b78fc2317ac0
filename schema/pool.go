package schema

import (
	"encoding/binary"
	"net/netip"
)

// checkPoolRoom reports an address pool too small for the agents that
// take their subnet from it: every agent whose bottle pins no subnet
// needs one free slot of /subnet_prefix, and pinned subnets inside the
// pool block the slots they overlap. The compiler allocates the same way
// and refuses the same manifests; here the error gets its position: the
// address_pool value when the manifest writes one, else subnet_prefix,
// else the defaults key or the start of the first file.
func (l *loader) checkPoolRoom(m *Manifest) {
	d := m.Defaults
	pool, err := netip.ParsePrefix(d.AddressPool)
	if err != nil || !pool.Addr().Is4() || pool.Masked() != pool || d.SubnetPrefix < pool.Bits() || d.SubnetPrefix > 32 {
		return // checkDefaults reports it
	}
	shift := 32 - d.SubnetPrefix
	slots := uint64(1) << (d.SubnetPrefix - pool.Bits())
	base := ip4(pool.Addr())
	poolLast := base + uint32(1<<(32-pool.Bits())-1)
	blocked := map[uint32]bool{}
	need := 0
	for _, a := range m.Agents {
		b := m.Bottles[a.Bottle]
		if b == nil {
			continue
		}
		if b.Network.Subnet == "" {
			need++
			continue
		}
		pin, err := netip.ParsePrefix(b.Network.Subnet)
		if err != nil || !pin.Addr().Is4() || !pin.Overlaps(pool) {
			continue
		}
		first := max(ip4(pin.Masked().Addr()), base)
		last := min(ip4(pin.Masked().Addr())+uint32(1<<(32-pin.Bits())-1), poolLast)
		for i := (first - base) >> shift; i <= (last-base)>>shift; i++ {
			blocked[i] = true
		}
	}
	room := slots - uint64(len(blocked))
	if uint64(need) <= room {
		return
	}
	pinned := ""
	if len(blocked) > 0 {
		pinned = ", after the pinned subnets inside it,"
	}
	p := sels("defaults", "address_pool")
	pos := l.filePos()
	switch {
	case l.fast:
	case l.lookup(p).Exists():
		pos = l.valuePos(p)
	case l.lookup(sels("defaults", "subnet_prefix")).Exists():
		pos = l.valuePos(sels("defaults", "subnet_prefix"))
	case l.lookup(sels("defaults")).Exists():
		pos = l.keyPos(sels("defaults"))
	}
	l.errorf(pos, p, "%s has room for %d subnets of /%d%s but %d agents need one (every agent whose bottle pins no network.subnet): widen address_pool or raise subnet_prefix",
		d.AddressPool, room, d.SubnetPrefix, pinned, need)
}

// ip4 is a as a number.
func ip4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}
