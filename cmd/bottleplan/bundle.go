package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/bundle"
	"github.com/bottleplan/bottleplan/bundle/probewire"
	"github.com/bottleplan/bottleplan/plan"
)

// The bundle command runs inside a bottle's bundle container; users do
// not call it, so it is left out of the command list (short is "") but
// has full --help.
func init() {
	register(&command{
		name:  "bundle",
		usage: "bundle serve [--config PATH] [--ca-cert PATH] [--ca-key PATH] [--ssh-key-dir DIR] | bundle probe [--timeout D] [--ca-cert PATH] TARGETS.json|-",
		short: "",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			config := fs.String("config", plan.BundleInstanceFile, "instance JSON the bundle serves")
			caCert := fs.String("ca-cert", plan.BundleCAFile, "instance CA certificate (PEM)")
			caKey := fs.String("ca-key", plan.BundleCAKeyFile, "instance CA private key (PEM, mode 0600)")
			sshKeyDir := fs.String("ssh-key-dir", plan.BundleSSHKeyDir, "git gate ssh keys, one file per repo name")
			timeout := fs.Duration("timeout", 3*time.Second, "probe: default time limit per probe")
			return func(e *env, args []string) error {
				if len(args) == 0 {
					return usagef("missing subcommand: serve or probe")
				}
				switch args[0] {
				case "serve":
					if len(args) > 1 {
						return usagef("serve takes no arguments, got %q", args[1:])
					}
					return bundleServe(e, *config, *caCert, *caKey, *sshKeyDir)
				case "probe":
					if len(args) != 2 {
						return usagef("probe takes one argument: a JSON array of targets, or - to read it from stdin")
					}
					return bundleProbe(e, args[1], *timeout, *caCert, fs.Changed("ca-cert"))
				default:
					return usagef("unknown subcommand %q: serve or probe", args[0])
				}
			}
		},
	})
}

// bundleServe reads the instance and the CA and serves the bundle's
// daemons until interrupted. Decisions go to stdout, one JSON line each;
// start-up and errors go to stderr.
func bundleServe(e *env, configPath, caCertPath, caKeyPath, sshKeyDir string) error {
	data, err := os.ReadFile(configPath)
	if err != nil {
		return fmt.Errorf("read instance config: %w", err)
	}
	var inst plan.Instance
	if err := json.Unmarshal(data, &inst); err != nil {
		return fmt.Errorf("instance config %s: %w", configPath, err)
	}
	var ca *bundle.CA
	if needsCA(inst) {
		certPEM, err := os.ReadFile(caCertPath)
		if err != nil {
			return fmt.Errorf("read instance CA certificate: %w", err)
		}
		keyPEM, err := os.ReadFile(caKeyPath)
		if err != nil {
			return fmt.Errorf("read instance CA key: %w", err)
		}
		if ca, err = bundle.LoadCA(certPEM, keyPEM); err != nil {
			return fmt.Errorf("instance CA: %w", err)
		}
	}
	for _, name := range inst.Bundle.SecretsFromHost {
		if e.getenv(name) == "" {
			fmt.Fprintf(e.stderr, "bottleplan bundle: warning: %s is not set; requests that need it will be refused\n", name)
		}
	}
	if needsUpstreamTLS(inst) {
		if pool, err := x509.SystemCertPool(); err != nil || pool.Equal(x509.NewCertPool()) {
			fmt.Fprintf(e.stderr, "bottleplan bundle: warning: no system CA certificates; TLS to intercepted routes and https repos will fail. Put a bundle at /etc/ssl/certs/ca-certificates.crt in the bundle image or point SSL_CERT_FILE at one\n")
		}
	}
	b, err := bundle.New(bundle.Options{
		Instance:  inst,
		CA:        ca,
		Getenv:    e.getenv,
		Log:       e.stdout,
		SSHKeyDir: sshKeyDir,
	})
	if err != nil {
		return err
	}
	return b.Serve(e.ctx, func(name, addr string) {
		fmt.Fprintf(e.stderr, "bottleplan bundle: %s listening on %s\n", name, addr)
	})
}

// needsUpstreamTLS reports whether the bundle itself opens TLS to an
// upstream (intercepted routes, which a compiled plan's routes all are;
// https repos) and so needs root CAs; blind tunnels (older plans) leave
// verification to the agent.
func needsUpstreamTLS(inst plan.Instance) bool {
	if needsCA(inst) {
		return true
	}
	if gg := inst.Bundle.GitGate; gg != nil {
		for _, r := range gg.Repos {
			if strings.HasPrefix(r.Upstream, "https://") {
				return true
			}
		}
	}
	return false
}

// needsCA reports whether any route of inst is intercepted.
func needsCA(inst plan.Instance) bool {
	for _, r := range inst.Bundle.Proxy.Routes {
		if r.Intercept {
			return true
		}
	}
	return false
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
