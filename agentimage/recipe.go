package agentimage

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"github.com/bottleplan/bottleplan/plan"
)

// Dockerfile is the recipe every template agent image is built from.
//
//go:embed agent.Dockerfile
var Dockerfile string

// DockerfileName is Dockerfile's name in the build context.
const DockerfileName = "Dockerfile"

// DefaultBase is the base image of every recipe unless the plan was made
// with --agent-base: Debian's slim Node 22 image, pinned to a release.
const DefaultBase = "node:22.20.0-bookworm-slim"

// Build argument names of agent.Dockerfile.
const (
	ArgBase       = plan.RecipeArgBase
	ArgCLIPackage = plan.RecipeArgCLIPackage
	ArgCLIVersion = plan.RecipeArgCLIVersion
)

// cli is a template's agent CLI: its npm package at a pinned version.
type cli struct{ pkg, version string }

// clis are the pinned agent CLIs, by template. Moving a version changes
// every plan that uses the template's image (a new recipe digest, a new
// tag), so the change is reviewed like any other.
var clis = map[string]cli{
	"claude": {"@anthropic-ai/claude-code", "2.0.14"},
	"codex":  {"@openai/codex", "0.46.0"},
}

// Templates returns the templates that have a recipe, sorted.
func Templates() []string {
	out := make([]string, 0, len(clis))
	for t := range clis {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// For returns the recipe of template built FROM base (DefaultBase when
// base is ""), and the image it names.
func For(template, base string) (*plan.Recipe, string, error) {
	c, ok := clis[template]
	if !ok {
		return nil, "", fmt.Errorf("no image recipe for template %q", template)
	}
	if base == "" {
		base = DefaultBase
	}
	r := &plan.Recipe{
		Template: template,
		BuildArgs: map[string]string{
			ArgBase:       base,
			ArgCLIPackage: c.pkg,
			ArgCLIVersion: c.version,
		},
	}
	d, err := Digest(r)
	if err != nil {
		return nil, "", err
	}
	r.Digest = d
	return r, Image(r), nil
}

// Digest is what Recipe.Digest must hold for r with this binary's
// Dockerfile: the canonical digest of the Dockerfile text, the template
// and the build args.
func Digest(r *plan.Recipe) (string, error) {
	d, err := plan.CanonicalDigest(struct {
		Dockerfile string            `json:"dockerfile"`
		Template   string            `json:"template"`
		BuildArgs  map[string]string `json:"build_args"`
	}{Dockerfile, r.Template, r.BuildArgs})
	if err != nil {
		return "", fmt.Errorf("recipe digest: %w", err)
	}
	return d, nil
}

// Image is the reference the recipe's image is tagged with:
// bottleplan/agent-<template>:<first 16 hex digits of its digest>.
func Image(r *plan.Recipe) string {
	hex := strings.TrimPrefix(r.Digest, "sha256:")
	return plan.RecipeImageRepo(r.Template) + ":" + hex[:min(16, len(hex))]
}
