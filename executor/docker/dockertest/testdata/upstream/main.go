// Command upstream is the test upstream verify and the token injection
// test talk to through a bundle: an HTTPS server on :443 whose
// certificate and key come from UPSTREAM_CERT and UPSTREAM_KEY (PEM).
// Every answer is 200 "upstream ok auth-sha256=<hex>" with the SHA-256
// of the Authorization header it received ("none" without one), so a
// test can check which token arrived without the server printing it.
package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
)

func main() {
	cert, err := tls.X509KeyPair([]byte(os.Getenv("UPSTREAM_CERT")), []byte(os.Getenv("UPSTREAM_KEY")))
	if err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Addr:      ":443",
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sum := "none"
			if a := r.Header.Get("Authorization"); a != "" {
				h := sha256.Sum256([]byte(a))
				sum = hex.EncodeToString(h[:])
			}
			fmt.Fprintf(w, "upstream ok auth-sha256=%s\n", sum)
		}),
	}
	fmt.Fprintln(os.Stderr, "upstream: listening on :443")
	if err := srv.ListenAndServeTLS("", ""); err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
}
