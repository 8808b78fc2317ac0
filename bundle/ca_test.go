package bundle

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

func TestCALeafVerifiesAndIsCached(t *testing.T) {
	certPEM, keyPEM, err := GenerateCA("instance test CA", time.Now(), 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	ca := &testCA{ca: c, pool: pool, pem: certPEM}
	leaf, err := ca.ca.Leaf("api.example.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "api.example.test", Roots: ca.pool}); err != nil {
		t.Fatalf("leaf does not verify against the CA: %v", err)
	}
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: "other.example.test", Roots: ca.pool}); err == nil {
		t.Fatal("leaf verifies for another host")
	}
	again, _ := ca.ca.Leaf("api.example.test")
	if again != leaf {
		t.Fatal("leaf minted twice for one host")
	}
	// Near expiry a fresh leaf is minted.
	ca.ca.now = func() time.Time { return time.Now().Add(leafLifetime - time.Hour) }
	renewed, _ := ca.ca.Leaf("api.example.test")
	if renewed == leaf {
		t.Fatal("leaf not renewed near expiry")
	}
}

func TestLoadCA(t *testing.T) {
	certPEM, keyPEM, err := GenerateCA("x", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	ca := newTestCA(t, "y")
	leaf, _ := ca.ca.Leaf("a.example.test")
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]})
	tests := map[string]struct {
		cert, key []byte
		ok        bool
	}{
		"generated":    {certPEM, keyPEM, true},
		"no cert":      {nil, keyPEM, false},
		"not a ca":     {leafPEM, keyPEM, false},
		"no key":       {certPEM, nil, false},
		"pkcs1 key":    {certPEM, pkcs1, true},
		"garbage key":  {certPEM, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), false},
		"cert for key": {certPEM, certPEM, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := LoadCA(tc.cert, tc.key)
			if (err == nil) != tc.ok {
				t.Fatalf("LoadCA error %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// Regression: with a CA that expires within leafLifetime every leaf was
// capped short and re-minted on every request.
func TestCALeafCachedUnderShortLivedCA(t *testing.T) {
	ca := newTestCA(t, "one-hour CA")
	a, _ := ca.ca.Leaf("api.example.test")
	b, _ := ca.ca.Leaf("api.example.test")
	if a != b {
		t.Fatal("leaf re-minted under a short-lived CA")
	}
}
