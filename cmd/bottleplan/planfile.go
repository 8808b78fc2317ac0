package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
		if looksLikeManifest(path, b) {
			return nil, withCode(exitRefused, fmt.Errorf("%s: this is a manifest, not a plan file: run bottleplan plan -f %s -o plan.json, review it, then give plan.json", path, path))
		}
		if plan.IsUnusable(err) {
			return nil, withCode(exitRefused, fmt.Errorf("%s: %w", path, err))
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// looksLikeManifest reports whether a file that is not a plan is a
// manifest given by mistake: a .cue, .yaml or .yml file, or a JSON
// object with the manifest's "version" and not the plan's
// "format_version".
func looksLikeManifest(path string, b []byte) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".cue", ".yaml", ".yml":
		return true
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil {
		return false
	}
	_, version := top["version"]
	_, format := top["format_version"]
	return version && !format
}

// reviewOptions are the rendering options for output meant for a person:
// colour only when stdout is a terminal and NO_COLOR is unset or empty
// (https://no-color.org).
func reviewOptions(e *env) plan.RenderOptions {
	return plan.RenderOptions{Color: e.isTTY && e.getenv("NO_COLOR") == ""}
}
