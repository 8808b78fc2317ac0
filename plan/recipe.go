package plan

// Recipe is how apply builds a template agent's image when the bottle
// names neither image nor dockerfile: the Dockerfile embedded in
// bottleplan for the template (package agentimage) with BuildArgs.
// Agent.Image is then RecipeImageRepo(template):<first 16 hex digits of
// Digest>, built locally when absent.
type Recipe struct {
	// Template is the provider template whose recipe this is ("claude",
	// "codex").
	Template string `json:"template"`
	// BuildArgs are every build argument the Dockerfile gets: BASE_IMAGE
	// (a slim Node image, or the local base given with
	// plan --agent-base), CLI_PACKAGE and CLI_VERSION (the agent CLI's
	// npm package, pinned).
	BuildArgs map[string]string `json:"build_args"`
	// Digest is "sha256:<hex>" of the canonical JSON of the Dockerfile's
	// text and BuildArgs: what the image is made from.
	Digest string `json:"digest"`
}

// RecipeImageRepo is the repository of a template's recipe image,
// "bottleplan/agent-<template>".
func RecipeImageRepo(template string) string { return "bottleplan/agent-" + template }

// Build argument names of the recipe Dockerfile (agentimage).
const (
	RecipeArgBase       = "BASE_IMAGE"
	RecipeArgCLIPackage = "CLI_PACKAGE"
	RecipeArgCLIVersion = "CLI_VERSION"
)
