package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/bundle"
	"github.com/bottleplan/bottleplan/plan"
)

// The bundle command runs inside a bottle's bundle container; users do
// not call it, so it is left out of the command list (short is "") but
// has full --help.
func init() {
	register(&command{
		name:  "bundle",
		usage: "bundle serve [--config PATH] [--ca-cert PATH] [--ca-key PATH]",
		short: "",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			config := fs.String("config", plan.BundleInstanceFile, "instance JSON the bundle serves")
			caCert := fs.String("ca-cert", plan.BundleCAFile, "instance CA certificate (PEM)")
			caKey := fs.String("ca-key", plan.BundleCAKeyFile, "instance CA private key (PEM, mode 0600)")
			return func(e *env, args []string) error {
				if len(args) == 0 {
					return usagef("missing subcommand; the only one is \"serve\"")
				}
				switch args[0] {
				case "serve":
					if len(args) > 1 {
						return usagef("serve takes no arguments, got %q", args[1:])
					}
					return bundleServe(e, *config, *caCert, *caKey)
				default:
					return usagef("unknown subcommand %q; the only one is \"serve\"", args[0])
				}
			}
		},
	})
}

// bundleServe reads the instance and the CA and serves the bundle's
// daemons until interrupted. Decisions go to stdout, one JSON line each;
// start-up and errors go to stderr.
func bundleServe(e *env, configPath, caCertPath, caKeyPath string) error {
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
	b, err := bundle.New(bundle.Options{
		Instance: inst,
		CA:       ca,
		Getenv:   e.getenv,
		Log:      e.stdout,
	})
	if err != nil {
		return err
	}
	return b.Serve(e.ctx, func(name, addr string) {
		fmt.Fprintf(e.stderr, "bottleplan bundle: %s listening on %s\n", name, addr)
	})
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
