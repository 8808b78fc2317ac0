package compiler

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/agentimage"
	"github.com/bottleplan/bottleplan/plan"
)

// TestEveryTemplateHasARecipe holds the compiler's templates and the
// embedded recipes together: compileAgent ignores agentimage.For's error.
func TestEveryTemplateHasARecipe(t *testing.T) {
	if got, want := agentimage.Templates(), slices.Sorted(maps.Keys(providers)); !slices.Equal(got, want) {
		t.Fatalf("recipes for %v, templates %v", got, want)
	}
}

// TestAgentBaseNamesTheImage: --agent-base is recorded in the recipe's
// build args and moves the image tag, and only the template agents get a
// recipe.
func TestAgentBaseNamesTheImage(t *testing.T) {
	m := baseManifest()
	for _, b := range m.Bottles {
		b.AgentProvider.Image = ""
	}
	def := mustCompile(t, m, Options{})
	local := mustCompile(t, m, Options{AgentBase: "local/node:22"})
	a, b := def.Instances[0].Agent, local.Instances[0].Agent
	if a.Recipe == nil || b.Recipe == nil {
		t.Fatalf("no recipe: %+v / %+v", a, b)
	}
	if got := a.Recipe.BuildArgs[agentimage.ArgBase]; got != agentimage.DefaultBase {
		t.Errorf("default base %q, want %q", got, agentimage.DefaultBase)
	}
	if got := b.Recipe.BuildArgs[agentimage.ArgBase]; got != "local/node:22" {
		t.Errorf("--agent-base recorded as %q", got)
	}
	if a.Image == b.Image || !strings.HasPrefix(a.Image, plan.RecipeImageRepo(a.ProviderTemplate)+":") {
		t.Errorf("images %q and %q: want distinct recipe tags", a.Image, b.Image)
	}
	if def.Instances[0].ConfigHash.Agent == local.Instances[0].ConfigHash.Agent {
		t.Error("a new base does not replace the agent")
	}
	if !a.Terminal {
		t.Error("docker agent without a terminal")
	}
}
