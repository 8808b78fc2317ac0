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
	"time"
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
// instance never outlives it in practice; replacing the bundle keeps it.
const caValidity = 10 * 365 * 24 * time.Hour

// NewCA makes a CA for instance slug of project. now is the start of its
// validity (passed in so callers, not this package, read the clock).
func NewCA(project, slug string, now time.Time) (*CA, error) {
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
