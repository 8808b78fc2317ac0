package main

import (
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/bottleplan/bottleplan/bundle"
	"github.com/bottleplan/bottleplan/plan"
)

// serveCommand runs the bundle's daemons in the bundle container. The
// defaults are the paths the executor copies the instance, CA and keys
// to.
var serveCommand = &subcommand{
	usage: "[--config PATH] [--ca-cert PATH] [--ca-key PATH] [--ssh-key-dir DIR] [--operator-socket PATH]",
	short: "serve the bundle's daemons (proxy, git gate, supervise) for the instance in --config until stopped",
	flags: func(fs *flag.FlagSet) func(e *env, args []string) error {
		config := fs.String("config", plan.BundleInstanceFile, "instance JSON the bundle serves")
		caCert := fs.String("ca-cert", plan.BundleCAFile, "instance CA certificate (PEM)")
		caKey := fs.String("ca-key", plan.BundleCAKeyFile, "instance CA private key (PEM, mode 0600)")
		sshKeyDir := fs.String("ssh-key-dir", plan.BundleSSHKeyDir, "git gate ssh keys, one file per repo name")
		operatorSocket := fs.String("operator-socket", bundle.OperatorSocket, "unix socket of the operator API (supervise)")
		return func(e *env, args []string) error {
			if len(args) > 0 {
				return usagef("serve takes no arguments, got %q", args)
			}
			return bundleServe(e, *config, *caCert, *caKey, *sshKeyDir, *operatorSocket)
		}
	},
}

// bundleServe reads the instance and the CA and serves the bundle's
// daemons until interrupted. Decisions go to stdout, one JSON line each;
// start-up and errors go to stderr.
func bundleServe(e *env, configPath, caCertPath, caKeyPath, sshKeyDir, operatorSocket string) error {
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
	for _, n := range inst.Bundle.SecretsFromHost {
		if e.getenv(n) == "" {
			fmt.Fprintf(e.stderr, "%s: warning: %s is not set; requests that need it will be refused\n", name, n)
		}
	}
	if needsUpstreamTLS(inst) {
		if pool, err := x509.SystemCertPool(); err != nil || pool.Equal(x509.NewCertPool()) {
			fmt.Fprintf(e.stderr, "%s: warning: no system CA certificates; TLS to intercepted routes and https repos will fail. Put a bundle at /etc/ssl/certs/ca-certificates.crt in the bundle container or point SSL_CERT_FILE at one\n", name)
		}
	}
	b, err := bundle.New(bundle.Options{
		Instance:  inst,
		CA:        ca,
		Getenv:    e.getenv,
		Log:       e.stdout,
		SSHKeyDir: sshKeyDir,
		// Only when supervise is on (bundle.New); never on a network.
		OperatorSocket: operatorSocket,
	})
	if err != nil {
		return err
	}
	return b.Serve(e.ctx, func(daemon, addr string) {
		fmt.Fprintf(e.stderr, "%s: %s listening on %s\n", name, daemon, addr)
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

// needsCA reports whether any route of inst is intercepted, or
// supervise is on (a runtime grant is intercepted).
func needsCA(inst plan.Instance) bool {
	if inst.Bundle.Supervise != nil {
		return true
	}
	for _, r := range inst.Bundle.Proxy.Routes {
		if r.Intercept {
			return true
		}
	}
	return false
}
