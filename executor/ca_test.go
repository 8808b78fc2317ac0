package executor

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

// verifyMinted mints, with the CA's key as an attacker holding it would,
// a server certificate for the given SANs, and verifies it for dnsName
// with Go's standard verifier trusting only the CA.
func verifyMinted(t *testing.T, ca *CA, dnsName string, dnsNames []string, ips []net.IP) error {
	t.Helper()
	cb, _ := pem.Decode(ca.CertPEM)
	caCert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := pem.Decode(ca.KeyPEM)
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &leafKey.PublicKey, k.(crypto.Signer))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: dnsName, Roots: pool})
	return err
}

// A leaf for a route host verifies; a leaf the CA's key signs for
// anything else does not, so a leaked key is worth one instance's hosts.
func TestNewCANameConstraints(t *testing.T) {
	ca, err := NewCA("acme", "dev", []string{"api.example.com", "*.githubusercontent.com", "API.example.com"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		name string
		sans []string
		ips  []net.IP
		ok   bool
	}{
		"route host":                 {"api.example.com", []string{"api.example.com"}, nil, true},
		"wildcard subdomain":         {"raw.githubusercontent.com", []string{"raw.githubusercontent.com"}, nil, true},
		"deep wildcard subdomain":    {"a.b.githubusercontent.com", []string{"a.b.githubusercontent.com"}, nil, true},
		"another domain":             {"evil.com", []string{"evil.com"}, nil, false},
		"parent of a route host":     {"example.com", []string{"example.com"}, nil, false},
		"sibling of a route host":    {"www.example.com", []string{"www.example.com"}, nil, false},
		"wildcard apex":              {"githubusercontent.com", []string{"githubusercontent.com"}, nil, false},
		"suffix lookalike":           {"evilapi.example.com", []string{"evilapi.example.com"}, nil, false},
		"extra SAN for another host": {"api.example.com", []string{"api.example.com", "evil.com"}, nil, false},
		"IPv4 address":               {"127.0.0.1", nil, []net.IP{net.ParseIP("127.0.0.1")}, false},
		"IPv6 address":               {"::1", nil, []net.IP{net.ParseIP("::1")}, false},
		"IP beside a route host":     {"api.example.com", []string{"api.example.com"}, []net.IP{net.ParseIP("169.254.169.254")}, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := verifyMinted(t, ca, tt.name, tt.sans, tt.ips)
			if (err == nil) != tt.ok {
				t.Fatalf("verify %s with SANs %v %v: %v, want ok=%v", tt.name, tt.sans, tt.ips, err, tt.ok)
			}
		})
	}

	cb, _ := pem.Decode(ca.CertPEM)
	c, _ := x509.ParseCertificate(cb.Bytes)
	nameConstraints := asn1.ObjectIdentifier{2, 5, 29, 30}
	i := slices.IndexFunc(c.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(nameConstraints) })
	if i < 0 || !c.Extensions[i].Critical {
		t.Fatalf("name constraints extension missing or not critical (index %d)", i)
	}
	if len(c.PermittedEmailAddresses)+len(c.PermittedURIDomains)+len(c.PermittedIPRanges) != 0 {
		t.Fatalf("CA permits email %v, URI %v or IP %v; it must permit DNS names only", c.PermittedEmailAddresses, c.PermittedURIDomains, c.PermittedIPRanges)
	}
}

// An instance without routes gets a CA that certifies no real name.
func TestNewCAWithoutRoutesCertifiesNothing(t *testing.T) {
	ca, err := NewCA("acme", "dev", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyMinted(t, ca, "example.com", []string{"example.com"}, nil); err == nil {
		t.Fatal("a CA made for no routes certifies example.com")
	}
	if got := CertDomains(ca.CertPEM); !slices.Equal(got, []string{"invalid"}) {
		t.Fatalf("CertDomains = %v, want [invalid]", got)
	}
}

func TestPermittedDomains(t *testing.T) {
	tests := map[string]struct {
		hosts []string
		want  []string
	}{
		"none":              {nil, []string{"invalid"}},
		"exact":             {[]string{"api.example.com"}, []string{"api.example.com"}},
		"wildcard":          {[]string{"*.example.com"}, []string{".example.com"}},
		"sorted and unique": {[]string{"b.test", "*.a.test", "B.test", "b.test."}, []string{".a.test", "b.test"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := PermittedDomains(tt.hosts); !slices.Equal(got, tt.want) {
				t.Fatalf("PermittedDomains(%v) = %v, want %v", tt.hosts, got, tt.want)
			}
		})
	}
}

// Uncovered agrees with Go's verifier: a CA made for the live hosts
// covers a planned host exactly when a leaf for it (for "*.x", for a
// subdomain of x) verifies.
func TestUncovered(t *testing.T) {
	tests := map[string]struct {
		live, planned []string
		want          string
	}{
		"same hosts":                  {[]string{"a.test", "*.b.test"}, []string{"*.b.test", "a.test"}, ""},
		"a host removed":              {[]string{"a.test", "c.test"}, []string{"c.test"}, ""},
		"a host added":                {[]string{"a.test"}, []string{"a.test", "c.test"}, "c.test"},
		"subdomain of an exact host":  {[]string{"a.test"}, []string{"x.a.test"}, ""},
		"wildcard under exact host":   {[]string{"a.test"}, []string{"*.a.test"}, ""},
		"wildcard apex as exact host": {[]string{"*.b.test"}, []string{"b.test"}, "b.test"},
		"wildcard under wildcard":     {[]string{"*.b.test"}, []string{"*.x.b.test"}, ""},
		"exact host under wildcard":   {[]string{"*.b.test"}, []string{"x.b.test"}, ""},
		"wider wildcard":              {[]string{"*.x.b.test"}, []string{"*.b.test"}, "*.b.test"},
		"lookalike suffix":            {[]string{"a.test"}, []string{"evila.test"}, "evila.test"},
		"case":                        {[]string{"A.test"}, []string{"a.TEST"}, ""},
		"no routes then a route":      {nil, []string{"a.test"}, "a.test"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ca, err := NewCA("acme", "dev", tt.live, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			domains := CertDomains(ca.CertPEM)
			if got := Uncovered(domains, tt.planned); got != tt.want {
				t.Fatalf("Uncovered(%v, %v) = %q, want %q", domains, tt.planned, got, tt.want)
			}
			for _, h := range tt.planned {
				name := h
				if len(h) > 2 && h[:2] == "*." {
					name = "sub." + h[2:]
				}
				verified := verifyMinted(t, ca, name, []string{name}, nil) == nil
				if covered := Uncovered(domains, []string{h}) == ""; covered != verified {
					t.Errorf("Uncovered says %s covered=%v, Go's verifier says %v", h, covered, verified)
				}
			}
		})
	}
	if got := Uncovered(nil, []string{"a.test"}); got != "a.test" {
		t.Fatalf("a CA without constraints covers %q; it must cover nothing", "a.test")
	}
}

// A supervised instance's CA certifies any DNS name (a host granted at
// runtime) and still no IP address, and says so in CertDomains.
func TestInstanceCASupervisedPermitsAnyNameNoIP(t *testing.T) {
	in := &plan.Instance{Slug: "dev", Bundle: plan.Bundle{Supervise: &plan.Supervise{},
		Proxy: plan.Proxy{Routes: []plan.Route{{Host: "api.example.com", Ports: []int{443}}}}}}
	ca, err := InstanceCA("acme", in, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyMinted(t, ca, "granted.example.org", []string{"granted.example.org"}, nil); err != nil {
		t.Fatalf("supervised CA refuses a DNS name: %v", err)
	}
	if err := verifyMinted(t, ca, "10.0.0.1", nil, []net.IP{net.ParseIP("10.0.0.1")}); err == nil {
		t.Fatal("supervised CA certifies an IP address")
	}
	if got := CertDomains(ca.CertPEM); !slices.Equal(got, []string{AnyDNSName}) {
		t.Fatalf("CertDomains = %v, want [%s]", got, AnyDNSName)
	}
	if h := Uncovered(CertDomains(ca.CertPEM), []string{"x.test", "*.y.test"}); h != "" {
		t.Fatalf("Uncovered = %q", h)
	}
	in.Bundle.Supervise = nil
	narrow, err := InstanceCA("acme", in, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := CertDomains(narrow.CertPEM); !slices.Equal(got, []string{"api.example.com"}) {
		t.Fatalf("unsupervised CertDomains = %v", got)
	}
}
