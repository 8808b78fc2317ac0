package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// routeHost is the one route of the benchmark. "localhost" resolves to
// loopback everywhere, so mitmdump (which resolves names itself) reaches
// the upstream with no hosts file; the bundle's injected dialer maps it.
const routeHost = "localhost"

// Files in the work directory.
const (
	upstreamCAFile   = "upstream-ca.pem"
	upstreamCertFile = "upstream-cert.pem"
	upstreamKeyFile  = "upstream-key.pem"
	bundleCAFile     = "bundle-ca.pem"
)

// authSeenHeader is the answer header naming the Authorization the
// upstream received: "none", "route-token" (Bearer and the route's
// secret) or "other".
const authSeenHeader = "X-Bench-Auth"

// protoSeenHeader is the answer header naming the HTTP version the
// request reached the upstream with.
const protoSeenHeader = "X-Bench-Proto"

func authSeen(v string) string {
	switch v {
	case "":
		return "none"
	case "Bearer " + secretValue(0):
		return "route-token"
	}
	return "other"
}

// getBody is what the upstream answers a GET with: a small JSON
// document, the size of a typical API status answer.
var getBody = []byte(`{"id":42,"name":"bench","state":"open","labels":["a","b"]}` + "\n")

// makeUpstreamCert writes a CA and a leaf for routeHost into work, with
// the standard library only: the upstream stands for a public server and
// shares nothing with the bundle's own CA code.
func makeUpstreamCert(work string) error {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bench upstream CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: routeHost},
		DNSNames:     []string{routeHost},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	for name, b := range map[string]*pem.Block{
		upstreamCAFile:   {Type: "CERTIFICATE", Bytes: caDER},
		upstreamCertFile: {Type: "CERTIFICATE", Bytes: leafDER},
		upstreamKeyFile:  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(work, name), pem.EncodeToMemory(b), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// upstreamHandler answers GET with getBody and POST, after reading the
// whole body, with its length; every answer names the Authorization it
// saw (authSeenHeader).
func upstreamHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(authSeenHeader, authSeen(r.Header.Get("Authorization")))
		w.Header().Set(protoSeenHeader, r.Proto)
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, `{"received":%d}`+"\n", n)
			return
		}
		w.Write(getBody)
	})
}

// upstreamServer is the upstream's server with the certificate
// makeUpstreamCert wrote into work. It speaks HTTP/1.1 only, as the
// issue's first measurement did, unless h2: then it offers h2 too, and
// the bundle's transport multiplexes every request on one connection
// (mitmdump and the direct clients, which offer no ALPN, stay on
// HTTP/1.1).
func upstreamServer(work string, h2 bool) (*http.Server, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(work, upstreamCertFile), filepath.Join(work, upstreamKeyFile))
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           upstreamHandler(),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	if !h2 {
		srv.TLSConfig.NextProtos = []string{"http/1.1"}
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	return srv, nil
}

// serveUpstream serves HTTPS (upstreamServer) for routeHost on 127.0.0.1, and on [::1]
// at the same port when it can, until stdin closes.
func serveUpstream(work string, h2 bool) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	lns := []net.Listener{ln}
	port := ln.Addr().(*net.TCPAddr).Port
	// mitmdump may try ::1 first for "localhost"; answer there too so it
	// does not pay a refused connection.
	if ln6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
		lns = append(lns, ln6)
	}
	for _, l := range lns {
		srv, err := upstreamServer(work, h2)
		if err != nil {
			return err
		}
		go srv.ServeTLS(l, "", "")
	}
	fmt.Printf("ready %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	return nil
}
