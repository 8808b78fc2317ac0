package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/plan"
)

func init() {
	register(&command{
		name:  "show",
		usage: "show plan.json [--json]",
		short: "Print a saved plan for review",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			asJSON := fs.Bool("json", false, "print the plan file itself (canonical JSON) instead of the review summary")
			return func(e *env, args []string) error {
				if len(args) != 1 {
					return usagef("want one plan file, got %d arguments", len(args))
				}
				return runShow(e, args[0], *asJSON)
			}
		},
		example: "bottleplan show plan.json\nbottleplan show plan.json --json",
	})
}

// runShow prints the review summary of a saved plan, or with asJSON its
// canonical bytes. The plan is decoded either way, so an altered or
// foreign plan is refused (exit 3) rather than shown.
func runShow(e *env, path string, asJSON bool) error {
	p, err := readPlan(path)
	if err != nil {
		return err
	}
	if asJSON {
		b, err := plan.Encode(p)
		if err != nil {
			return fmt.Errorf("encode plan: %w", err)
		}
		_, err = e.stdout.Write(b)
		return err
	}
	return plan.Render(e.stdout, p, reviewOptions(e))
}
