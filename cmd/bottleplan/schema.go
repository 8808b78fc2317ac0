package main

import (
	"fmt"

	"github.com/bottleplan/bottleplan/schema"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:  "schema",
		usage: "schema",
		short: "Print the embedded CUE schema of the manifest",
		flags: func(fs *pflag.FlagSet) func(*env, []string) error {
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				fmt.Fprint(e.stdout, schema.Source())
				return nil
			}
		},
		example: "bottleplan schema > bottleplan-schema.cue",
	})
}
