package bundle

import (
	"container/list"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"
)

// leafLifetime is how long a minted leaf certificate is valid (capped at
// the CA's own expiry). A leaf is re-minted once less than a quarter of
// its validity is left.
const leafLifetime = 24 * time.Hour

// CA is the instance certificate authority the proxy intercepts TLS with.
// Its key never leaves the bundle container; leaf certificates are minted
// per host on first use and cached in memory (the maxLeafCerts most
// recently used), all sharing one P-256 key generated at start.
type CA struct {
	cert    *x509.Certificate
	certDER []byte
	key     crypto.Signer
	leafKey *ecdsa.PrivateKey
	now     func() time.Time

	mu     sync.Mutex
	leaves leafCache
}

// LoadCA parses a PEM certificate and a PEM private key (PKCS#8, EC or
// PKCS#1) into a CA. The certificate must be a CA certificate.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("ca certificate: no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("ca certificate: not a CA (basic constraints)")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("ca key: no PEM block")
	}
	key, err := parseKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("leaf key: %w", err)
	}
	return &CA{
		cert: cert, certDER: cb.Bytes, key: key, leafKey: leafKey,
		now: time.Now, leaves: newLeafCache(maxLeafCerts),
	}, nil
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("PKCS#8 key cannot sign")
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS#8, EC or PKCS#1 private key")
}

// Leaf returns a certificate for host signed by the CA, minting and
// caching it on first use. It refuses a host outside the CA's name
// constraints (see permits).
func (ca *CA) Leaf(host string) (*tls.Certificate, error) { return ca.leafFor(host, nil) }

// leafFor is Leaf that also refuses a host live says no to: the proxy
// passes its live route hosts and runtime grants (canames.go), which is
// what bounds the names of a supervised instance's CA.
func (ca *CA) leafFor(host string, live func(string) bool) (*tls.Certificate, error) {
	if err := ca.permits(host, live); err != nil {
		return nil, err
	}
	now := ca.now()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c, ok := ca.leaves.get(host); ok && c.Leaf.NotAfter.Sub(now) > c.Leaf.NotAfter.Sub(c.Leaf.NotBefore)/4 {
		return c, nil
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(leafLifetime)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &ca.leafKey.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("mint certificate for %s: %w", host, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{
		Certificate: [][]byte{der, ca.certDER},
		PrivateKey:  ca.leafKey,
		Leaf:        leaf,
	}
	ca.leaves.put(host, c)
	return c, nil
}

// leafCache is a least-recently-used cache of leaf certificates by host,
// so an agent that asks for ever new host names cannot grow it without
// bound (every name costs a certificate in memory).
type leafCache struct {
	max   int
	order *list.List // of *leafEntry, least recently used at the front
	index map[string]*list.Element
}

type leafEntry struct {
	host string
	cert *tls.Certificate
}

func newLeafCache(max int) leafCache {
	return leafCache{max: max, order: list.New(), index: map[string]*list.Element{}}
}

// get returns host's certificate and marks it used.
func (c *leafCache) get(host string) (*tls.Certificate, bool) {
	e, ok := c.index[host]
	if !ok {
		return nil, false
	}
	c.order.MoveToBack(e)
	return e.Value.(*leafEntry).cert, true
}

// put stores host's certificate, evicting the least recently used one
// when full.
func (c *leafCache) put(host string, cert *tls.Certificate) {
	if e, ok := c.index[host]; ok {
		e.Value.(*leafEntry).cert = cert
		c.order.MoveToBack(e)
		return
	}
	c.index[host] = c.order.PushBack(&leafEntry{host, cert})
	if c.order.Len() > c.max {
		oldest := c.order.Front()
		delete(c.index, oldest.Value.(*leafEntry).host)
		c.order.Remove(oldest)
	}
}

// GenerateCA makes a new self-signed CA valid from now for validity, with
// an ECDSA P-256 key. It returns the certificate and the PKCS#8 key, both
// PEM. With permitted DNS domains (".x" for the strict subdomains of x)
// the CA carries critical name constraints limited to them and excluding
// every IP address, as the instance CA apply makes (executor.NewCA) does;
// without, it is unconstrained. Tests use it.
func GenerateCA(commonName string, now time.Time, validity time.Duration, permitted ...string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"bottleplan"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	if len(permitted) > 0 {
		tmpl.PermittedDNSDomainsCritical = true
		tmpl.PermittedDNSDomains = permitted
		tmpl.ExcludedIPRanges = []*net.IPNet{
			{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
			{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create ca certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	return certPEM, keyPEM, nil
}
