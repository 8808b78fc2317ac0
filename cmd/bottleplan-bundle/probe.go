package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/bottleplan/bottleplan/bundle"
	"github.com/bottleplan/bottleplan/bundle/probewire"
	"github.com/bottleplan/bottleplan/plan"
)

// probeCommand runs verify's probes in a probe container (the live
// bundle's image at probe_ip).
var probeCommand = &subcommand{
	usage: "[--timeout D] [--ca-cert PATH] TARGETS.json|-",
	short: "run the probes in TARGETS (a JSON array, or - for stdin) and print their results as JSON",
	flags: func(fset *flag.FlagSet) func(e *env, args []string) error {
		timeout := fset.Duration("timeout", 3*time.Second, "default time limit per probe")
		caCert := fset.String("ca-cert", plan.BundleCAFile, "instance CA certificate (PEM), trusted on top of the system roots")
		return func(e *env, args []string) error {
			if len(args) != 1 {
				return usagef("probe takes one argument: a JSON array of targets, or - to read it from stdin")
			}
			explicit := false
			fset.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "ca-cert" })
			return bundleProbe(e, args[0], *timeout, *caCert, explicit)
		}
	},
}

// bundleProbe runs the probes `verify` asks for from inside a container
// and prints their results as one JSON array on stdout. targets is a JSON
// array of probewire.Target, or "-" for stdin. The instance CA is
// trusted on top of the system pool when its file exists (it is required
// when --ca-cert is given explicitly). Exit 0 whenever the probes ran:
// judging them is verify's job.
func bundleProbe(e *env, targets string, timeout time.Duration, caCertPath string, caExplicit bool) error {
	data := []byte(targets)
	if targets == "-" {
		var err error
		if data, err = io.ReadAll(e.stdin); err != nil {
			return fmt.Errorf("read targets: %w", err)
		}
	}
	var ts []probewire.Target
	if err := json.Unmarshal(data, &ts); err != nil {
		return fmt.Errorf("targets are not a JSON array of probes: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	pemData, err := os.ReadFile(caCertPath)
	switch {
	case err == nil:
		if !roots.AppendCertsFromPEM(pemData) {
			return fmt.Errorf("ca certificate %s holds no PEM certificate", caCertPath)
		}
	case caExplicit || !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read ca certificate: %w", err)
	}
	results := bundle.NewProber(timeout, roots).Run(e.ctx, ts)
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}
