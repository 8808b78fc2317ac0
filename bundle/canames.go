package bundle

import (
	"fmt"
	"net/netip"
	"strings"
)

// permits returns nil when the CA's name constraints let it certify host,
// and an error naming the reason otherwise. The instance CA the executor
// makes permits only the plan's route hosts and no IP address; Leaf
// checks here first, so the bundle never mints a certificate that a
// verifier honouring the constraints would refuse, whatever host a bug
// upstream of Leaf passes it. A CA without constraints (tests, a CA made
// before bottleplan constrained its CAs) permits every name.
//
// Matching follows RFC 5280 as crypto/x509 does: a permitted "x" covers
// x and its subdomains, ".x" only its strict subdomains; excluded domains
// win over permitted ones.
//
// The CA of a supervised instance cannot carry constraints limited to
// the route hosts, since an operator may grant a host at runtime
// (grants.go): the executor makes it permit every DNS name and exclude
// every IP. For it, live (the proxy's Proxy.mayMint: a route host of the
// plan or a live grant) is the enforcement; it is checked for every CA,
// so an unsupervised bundle is held to its routes twice.
func (ca *CA) permits(host string, live func(string) bool) error {
	if err := ca.constraintsPermit(host); err != nil {
		return err
	}
	if live != nil && !live(host) {
		return fmt.Errorf("mint certificate for %s: not a route host or runtime grant of this instance", host)
	}
	return nil
}

// constraintsPermit checks host against the CA certificate's own name
// constraints.
func (ca *CA) constraintsPermit(host string) error {
	c := ca.cert
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if a, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		for _, n := range c.ExcludedIPRanges {
			if n.Contains(a.AsSlice()) {
				return fmt.Errorf("mint certificate for %s: the instance CA's name constraints exclude IP addresses", host)
			}
		}
		if len(c.PermittedDNSDomains) > 0 && len(c.PermittedIPRanges) == 0 {
			return fmt.Errorf("mint certificate for %s: the instance CA's name constraints permit DNS names only", host)
		}
		return nil
	}
	for _, d := range c.ExcludedDNSDomains {
		if withinDomain(strings.ToLower(d), name) {
			return fmt.Errorf("mint certificate for %s: excluded by the instance CA's name constraints", host)
		}
	}
	if len(c.PermittedDNSDomains) == 0 {
		return nil
	}
	for _, d := range c.PermittedDNSDomains {
		if withinDomain(strings.ToLower(d), name) {
			return nil
		}
	}
	return fmt.Errorf("mint certificate for %s: not a route host of this instance (outside the CA's name constraints)", host)
}

// withinDomain reports whether name is within constraint domain d.
func withinDomain(d, name string) bool {
	if strings.HasPrefix(d, ".") {
		return strings.HasSuffix(name, d) && len(name) > len(d)
	}
	return name == d || strings.HasSuffix(name, "."+d)
}
