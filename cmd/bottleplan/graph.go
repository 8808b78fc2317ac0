package main

import (
	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/plan"
)

func init() {
	register(&command{
		name:  "graph",
		usage: "graph plan.json",
		short: "print the plan's topology as Graphviz DOT: networks, bundle and agent, routes, repos",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			return func(e *env, args []string) error {
				if len(args) != 1 {
					return usagef("want one plan file, got %d arguments", len(args))
				}
				p, err := readPlan(args[0])
				if err != nil {
					return err
				}
				return plan.Graph(e.stdout, p)
			}
		},
		example: "bottleplan graph plan.json | dot -Tsvg -o plan.svg\nbottleplan graph plan.json > plan.dot",
	})
}
