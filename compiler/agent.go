package compiler

import (
	"sort"

	"github.com/bottleplan/bottleplan/agentimage"
	"github.com/bottleplan/bottleplan/plan"
	"github.com/bottleplan/bottleplan/schema"
)

// Provider templates.
const (
	templateClaude = "claude"
	templateCodex  = "codex"
)

// provider is what a template fixes: the default command, how the prompt
// reaches the CLI, and the model API the agent needs. Its default image
// is its recipe's (package agentimage).
type provider struct {
	// command is the default argv. The prompt file is always passed: apply
	// writes the agent's prompt (possibly empty) to plan.GuestPromptFile.
	// The bottle is the sandbox, so the CLI's own approval prompts and
	// sandbox are turned off: nobody is there to answer them, and the
	// CLI's sandbox cannot run inside the container.
	command    []string
	promptMode string
	// apiHost is the model API. Compile adds a route for it when the
	// bottle does not declare one (see providerRoute).
	apiHost string
}

var providers = map[string]provider{
	templateClaude: {
		command: []string{"claude", "--dangerously-skip-permissions",
			"--append-system-prompt-file", plan.GuestPromptFile},
		promptMode: plan.PromptModeClaudeAppendFile,
		apiHost:    "api.anthropic.com",
	},
	templateCodex: {
		// codex parses a -c value as JSON when it can and takes it as a
		// literal string otherwise, so the path needs no quoting.
		command: []string{"codex", "--dangerously-bypass-approvals-and-sandbox",
			"-c", "model_instructions_file=" + plan.GuestPromptFile},
		promptMode: plan.PromptModeCodexInstructionsFile,
		apiHost:    "api.openai.com",
	},
}

// providerOf returns the template's provider; unknown templates are
// rejected by checkBottle before this is called.
func providerOf(b *schema.Bottle) provider {
	return providers[orDefault(b.AgentProvider.Template, templateClaude)]
}

// compileAgent fills plan.Agent. The image is the bottle's image, or its
// dockerfile with the digest the loader computed, or, when the bottle
// names neither, the template's recipe image (built FROM opts.AgentBase),
// with the recipe that builds it. A docker agent runs with a terminal.
func compileAgent(base, backend, slug string, a *schema.Agent, b *schema.Bottle, opts Options) plan.Agent {
	pv := providerOf(b)
	ap := b.AgentProvider
	out := plan.Agent{
		Name:             slug,
		Image:            ap.Image,
		Dockerfile:       ap.Dockerfile,
		DockerfileDigest: ap.DockerfileDigest,
		Command:          append([]string(nil), pv.command...),
		PromptMode:       pv.promptMode,
		ProviderTemplate: orDefault(ap.Template, templateClaude),
		Prompt:           a.Prompt,
		Skills:           sortedCopy(a.Skills),
	}
	if out.Image == "" && out.Dockerfile == "" {
		// Every template has a recipe (TestEveryTemplateHasARecipe), so
		// the error cannot happen.
		out.Recipe, out.Image, _ = agentimage.For(out.ProviderTemplate, opts.AgentBase)
	}
	out.Terminal = backend == plan.BackendDocker
	if len(a.Command) > 0 {
		out.Command = append([]string(nil), a.Command...)
	}
	// checkBottle made sure Resources is set, with a pids limit.
	out.Resources = &plan.Resources{CPUs: b.Resources.CPUs, MemoryMiB: b.Resources.MemoryMiB, Pids: b.Resources.Pids}
	if backend == plan.BackendDocker {
		out.ContainerName = base + "-agent"
	} else {
		out.MachineName = base
	}
	return out
}

// sortedCopy returns a sorted copy of s, never nil, so the plan shows
// an empty list as [] rather than null.
func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}
