package main

import (
	"fmt"
	"os"

	"github.com/bottleplan/bottleplan/plan"
)

// readPlanArg reads the one plan file a command takes as its only
// positional argument (apply, status, destroy, verify).
func readPlanArg(args []string) (*plan.Plan, error) {
	if len(args) != 1 {
		return nil, usagef("want exactly one plan file, got %d arguments", len(args))
	}
	return readPlan(args[0])
}

// readPlan reads and decodes the plan file at path, for every command
// that takes one (show, diff, apply, status, destroy, verify). A plan the
// plan package refuses (altered, reformatted, unknown format) becomes an
// exit-3 error naming the file; a file that cannot be read is an
// ordinary error (exit 1).
func readPlan(path string) (*plan.Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	p, err := plan.Decode(b)
	if err != nil {
		if plan.IsUnusable(err) {
			return nil, withCode(exitRefused, fmt.Errorf("%s: %w", path, err))
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// reviewOptions are the rendering options for output meant for a person:
// colour only when stdout is a terminal and NO_COLOR is unset or empty
// (https://no-color.org).
func reviewOptions(e *env) plan.RenderOptions {
	return plan.RenderOptions{Color: e.isTTY && e.getenv("NO_COLOR") == ""}
}
