package main

import (
	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/plan"
)

func init() {
	register(&command{
		name:  "diff",
		usage: "diff old.json new.json [--detailed-exitcode]",
		short: "Show what changed between two plans, security-relevant changes first",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			detailed := fs.Bool("detailed-exitcode", false, "exit 2 when the plans differ, 0 when they do not")
			return func(e *env, args []string) error {
				if len(args) != 2 {
					return usagef("want two plan files (old and new), got %d arguments", len(args))
				}
				return runDiff(e, args[0], args[1], *detailed)
			}
		},
		example: "bottleplan diff old/plan.json plan.json\nbottleplan diff --json old/plan.json plan.json\nbottleplan diff --detailed-exitcode old/plan.json plan.json   # exit 2 when they differ",
	})
}

// runDiff prints the semantic difference between two saved plans. Both
// must decode: a refused plan exits 3 before anything is compared.
func runDiff(e *env, oldPath, newPath string, detailed bool) error {
	old, err := readPlan(oldPath)
	if err != nil {
		return err
	}
	new, err := readPlan(newPath)
	if err != nil {
		return err
	}
	changes := plan.Diff(old, new)
	if err := plan.RenderDiff(e.stdout, changes, reviewOptions(e)); err != nil {
		return err
	}
	if detailed && len(changes) > 0 {
		return silent(exitChanges)
	}
	return nil
}
