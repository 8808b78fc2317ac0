package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/plan"
)

// Placeholder until the bundle engineer's `bundle serve` lands on main:
// the executor's Docker tests need a bundle container that stays up. It
// checks that apply put a readable instance file in place, then waits
// to be stopped. Replace this file with main's when merging.
func init() {
	register(&command{
		name:  "bundle",
		usage: "bundle serve",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			return func(e *env, args []string) error {
				if len(args) != 1 || args[0] != "serve" {
					return usagef("the only subcommand is \"serve\"")
				}
				data, err := os.ReadFile(plan.BundleInstanceFile)
				if err != nil {
					return fmt.Errorf("read instance config: %w", err)
				}
				var inst plan.Instance
				if err := json.Unmarshal(data, &inst); err != nil {
					return fmt.Errorf("instance config: %w", err)
				}
				fmt.Fprintf(e.stderr, "bottleplan bundle: serving instance %q\n", inst.Slug)
				<-e.ctx.Done()
				return nil
			}
		},
	})
}
