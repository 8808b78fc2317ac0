package executor

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

// CA is an instance's certificate authority: the bundle's proxy signs
// intercepted hosts with it and the agent trusts its certificate. It is
// made at apply, in memory; the key is written only into the bundle
// container (BundleCAKeyFile, mode 0600) and never to the host's disk.
type CA struct {
	// CertPEM is the certificate, PEM encoded.
	CertPEM []byte
	// KeyPEM is the private key, PEM encoded (PKCS #8).
	KeyPEM []byte
}

// caValidity is how long a generated CA is valid. Long enough that an
// instance never outlives it in practice; replacing the bundle keeps it
// unless the plan's route hosts leave its name constraints (Diff).
const caValidity = 10 * 365 * 24 * time.Hour

// NewCA makes a CA for instance slug of project whose certificates can
// name only the route hosts given (plan.Route.Host values, "*.x" for the
// subdomains of x): its critical name constraints permit the DNS domains
// PermittedDomains(hosts) and exclude every IP address, so even a leaked
// key cannot mint a certificate a standard verifier accepts for another
// domain. now is the start of its validity (passed in so callers, not
// this package, read the clock).
func NewCA(project, slug string, hosts []string, now time.Time) (*CA, error) {
	return newCA(project, slug, PermittedDomains(hosts), now)
}

// InstanceCA makes the CA for in: NewCA for its route hosts, or, when
// supervise is on, a CA that permits every DNS name and still excludes
// every IP address. A supervised instance's operator may grant a host at
// runtime (bundle/grants.go), and a CA limited to the plan's route hosts
// could not certify it without a new CA, and so a new agent; the bundle
// itself then mints only for the plan's route hosts and live grants
// (bundle/canames.go), so the wider constraint is the price of a leaked
// key only: a certificate for any name, never an IP, trusted by this one
// agent.
func InstanceCA(project string, in *plan.Instance, now time.Time) (*CA, error) {
	if in.Bundle.Supervise != nil {
		return newCA(project, in.Slug, nil, now)
	}
	return NewCA(project, in.Slug, RouteHosts(in), now)
}

// AnyDNSName is what CertDomains returns for a CA that permits every DNS
// name and excludes every IP (a supervised instance's, InstanceCA), and
// what the bundle's io.bottleplan.ca-domains label says of it.
const AnyDNSName = "*"

// newCA makes the CA; permitted nil permits every DNS name.
func newCA(project, slug string, permitted []string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate CA serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("bottleplan %s/%s CA", project, slug), Organization: []string{"bottleplan"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,

		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         permitted,
		ExcludedIPRanges:            noIPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode CA key: %w", err)
	}
	return &CA{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}, nil
}

// noIPs excludes every IPv4 and IPv6 address: the bundle intercepts names
// only, so the CA never certifies an IP address.
var noIPs = []*net.IPNet{
	{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
	{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
}

// noHost is the permitted domain of a CA for an instance without routes:
// "invalid" is reserved never to exist (RFC 6761), and a CA whose
// constraints permit no DNS domain at all would be unconstrained for
// names.
const noHost = "invalid"

// RouteHosts returns the hosts of in's proxy routes, in plan order: what
// its instance CA must be able to certify.
func RouteHosts(in *plan.Instance) []string {
	hs := make([]string, 0, len(in.Bundle.Proxy.Routes))
	for _, r := range in.Bundle.Proxy.Routes {
		hs = append(hs, r.Host)
	}
	return hs
}

// PermittedDomains returns the permitted DNS domains of the name
// constraints of a CA for route hosts, sorted and without duplicates:
// "api.example.com" permits that name ("example.com" style: RFC 5280
// also lets it cover its subdomains, the closest X.509 gets to an exact
// name), and "*.example.com" permits ".example.com", its strict
// subdomains. Names are lower-cased; with no hosts it is ["invalid"].
func PermittedDomains(hosts []string) []string {
	var ds []string
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			h = "." + rest
		}
		if h != "" && h != "." {
			ds = append(ds, h)
		}
	}
	if len(ds) == 0 {
		return []string{noHost}
	}
	slices.Sort(ds)
	return slices.Compact(ds)
}

// CertDomains returns the permitted DNS domains of the name constraints
// of the first certificate in certPEM, sorted; [AnyDNSName] when it
// permits every DNS name but excludes every IP (InstanceCA for a
// supervised instance); nil when it has no constraints (a CA made before
// bottleplan constrained its CAs) or cannot be parsed.
func CertDomains(certPEM []byte) []string {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil
	}
	if len(c.PermittedDNSDomains) == 0 {
		if excludesEveryIP(c.ExcludedIPRanges) {
			return []string{AnyDNSName}
		}
		return nil
	}
	return slices.Sorted(slices.Values(c.PermittedDNSDomains))
}

// excludesEveryIP reports whether ranges exclude all of IPv4 and IPv6.
func excludesEveryIP(ranges []*net.IPNet) bool {
	v4, v6 := false, false
	for _, n := range ranges {
		ones, bits := n.Mask.Size()
		if ones == 0 && bits == 32 {
			v4 = true
		}
		if ones == 0 && bits == 128 {
			v6 = true
		}
	}
	return v4 && v6
}

// Uncovered returns the first route host (in the order given) that a CA
// whose name constraints permit domains cannot certify, and "" when it can
// certify them all. A CA without constraints (domains nil) covers none:
// it is the kind a leaked key turns into a certificate for anything, and
// must be replaced. Matching follows RFC 5280 as crypto/x509 does: "x"
// covers x and its subdomains, ".x" only its strict subdomains.
func Uncovered(domains, hosts []string) string {
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if !slices.ContainsFunc(domains, func(d string) bool { return d == AnyDNSName || coversHost(d, h) }) {
			return h
		}
	}
	return ""
}

// coversHost reports whether permitted domain d covers route host h ("*.x"
// for the strict subdomains of x).
func coversHost(d, h string) bool {
	d = strings.ToLower(d)
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		// Every strict subdomain of rest: d is ".rest", or covers rest
		// and its subdomains ("rest", an ancestor, or ".ancestor").
		return d == "."+rest || domainMatches(d, rest)
	}
	return domainMatches(d, h)
}

// domainMatches reports whether name is within permitted domain d.
func domainMatches(d, name string) bool {
	if strings.HasPrefix(d, ".") {
		return strings.HasSuffix(name, d) && len(name) > len(d)
	}
	return name == d || strings.HasSuffix(name, "."+d)
}

// Fingerprint returns "sha256:<hex>" of the first certificate in certPEM,
// or "" when there is none. Observe uses it to tell whether an agent
// trusts its bundle's CA without reading any key.
func Fingerprint(certPEM []byte) string {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return ""
	}
	sum := sha256.Sum256(b.Bytes)
	return "sha256:" + hex.EncodeToString(sum[:])
}
