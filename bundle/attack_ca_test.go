package bundle

import (
	"crypto/x509"
	"testing"
	"time"
)

// The agent cannot reach the CA key, but the bundle mints whatever host
// it is asked for. With a name-constrained instance CA, a leaf minted for
// a host outside the constraints is useless to a standard verifier; the
// bundle must not mint it at all, so no code path (a CONNECT host that
// slipped past the allowlist, a bug) turns the CA into a certificate for
// another domain. Leaf's decision agrees with Go's verifier.
func TestAttackCALeafForAnotherDomain(t *testing.T) {
	certPEM, keyPEM, err := GenerateCA("constrained", time.Now(), time.Hour, ".example.test", "api.other.test")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	tests := map[string]bool{
		"x.example.test":     true,
		"a.b.example.test":   true,
		"API.other.test":     true,
		"api.other.test":     true,
		"sub.api.other.test": true, // RFC 5280: a permitted name covers its subdomains
		"example.test":       false,
		"other.test":         false,
		"evilapi.other.test": false,
		"evil.test":          false,
		"127.0.0.1":          false,
		"::1":                false,
		"169.254.169.254":    false,
	}
	for host, ok := range tests {
		t.Run(host, func(t *testing.T) {
			leaf, err := ca.Leaf(host)
			if (err == nil) != ok {
				t.Fatalf("Leaf(%s) error %v, want ok=%v", host, err, ok)
			}
			if ok {
				if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
					t.Fatalf("minted leaf for %s does not verify: %v", host, err)
				}
			}
		})
	}
}
