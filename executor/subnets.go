package executor

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"

	"github.com/bottleplan/bottleplan/plan"
)

// CheckSubnets fails when the subnet of a planned instance overlaps a
// network on the host that this project does not own, naming that
// network. It runs before any change, so an apply never half-creates an
// instance whose network the Engine would refuse, and never shares an
// address range with someone else's network. Networks of the same
// project are left out: Diff replaces them when they drifted.
func CheckSubnets(p *plan.Plan, obs *Observed) error {
	var errs []string
	for _, in := range p.Instances {
		mine, err := netip.ParsePrefix(in.Network.Subnet)
		if err != nil {
			errs = append(errs, fmt.Sprintf("instance %q: subnet %q is not a CIDR; re-run bottleplan plan", in.Slug, in.Network.Subnet))
			continue
		}
		for _, n := range obs.Networks {
			if n.Project == p.Project {
				continue
			}
			for _, s := range n.Subnets {
				theirs, err := netip.ParsePrefix(s)
				if err != nil || !theirs.Addr().Is4() || !mine.Overlaps(theirs) {
					continue
				}
				owner := "which bottleplan does not own"
				if n.Project != "" {
					owner = fmt.Sprintf("which belongs to bottleplan project %q", n.Project)
				}
				what := "pinned subnet"
				if !in.Network.Pinned {
					what = "subnet"
				}
				errs = append(errs, fmt.Sprintf("instance %q: %s %s overlaps network %q (%s), %s; pin another subnet or remove that network",
					in.Slug, what, in.Network.Subnet, n.Name, s, owner))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Strings(errs)
	es := make([]error, len(errs))
	for i, e := range errs {
		es[i] = errors.New(e)
	}
	return errors.Join(es...)
}
