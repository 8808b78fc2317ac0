package docker_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/agentimage"
	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

// recipePlan is a one-instance plan whose agent is the claude template's
// recipe image built FROM base, as the compiler makes it with
// --agent-base base.
func recipePlan(t *testing.T, project, base string) *plan.Plan {
	t.Helper()
	p := dockertest.Plan(project, "", "tpl")
	in := &p.Instances[0]
	r, ref, err := agentimage.For("claude", base)
	if err != nil {
		t.Fatal(err)
	}
	in.Agent.Recipe, in.Agent.Image, in.Agent.Terminal = r, ref, true
	in.Agent.Command = []string{"claude"}
	return p
}

// TestRecipeImageBuiltFromStandinBase: apply of a template agent whose
// image is absent builds the embedded production recipe (only its base
// is the stand-in, through the BASE_IMAGE build arg, as plan
// --agent-base records it), tags it with the recipe digest, labels it,
// streams the build's progress, and starts the agent with a terminal as
// the recipe's non-root user.
func TestRecipeImageBuiltFromStandinBase(t *testing.T) {
	eng := dockertest.Engine(t)
	base := dockertest.StandinBase(t, eng)
	_, ref, _ := agentimage.For("claude", base)
	dockertest.CleanupImage(t, eng, ref) // before Project: runs after its cleanup
	project := dockertest.Project(t, eng)
	p := recipePlan(t, project, base)
	in := &p.Instances[0]
	var progress bytes.Buffer
	var logs []string
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t), BuildProgress: &progress,
		Log: func(m string) { logs = append(logs, m) }})
	if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	img, err := eng.ImageInspect(context.Background(), in.Agent.Image)
	if err != nil {
		t.Fatalf("recipe image %s not built: %v", in.Agent.Image, err)
	}
	if img.Config.User != "agent" || img.Config.Labels[docker.LabelImage] != docker.ImageKindAgentRecipe {
		t.Errorf("image user %q labels %v, want agent and %s=%s", img.Config.User, img.Config.Labels, docker.LabelImage, docker.ImageKindAgentRecipe)
	}
	for _, w := range []string{"Step ", "RUN npm install", "stand-in npm: added @anthropic-ai/claude-code@", "stand-in apt-get: installed git"} {
		if !strings.Contains(progress.String(), w) {
			t.Errorf("build progress lacks %q:\n%s", w, progress.String())
		}
	}
	if !slices.ContainsFunc(logs, func(l string) bool { return strings.Contains(l, "from the claude recipe FROM "+base) }) {
		t.Errorf("build announced as %q", logs)
	}
	agent := inspect(t, eng, in.Agent.ContainerName)
	if !agent.State.Running || !agent.Config.Tty || !agent.Config.OpenStdin || agent.Config.Image != in.Agent.Image {
		t.Errorf("agent running %v tty %v stdin %v image %q", agent.State.Running, agent.Config.Tty, agent.Config.OpenStdin, agent.Config.Image)
	}
	if got := string(readFile(t, eng, agent.ID, "/usr/local/lib/standin/@anthropic-ai_claude-code")); got != "@anthropic-ai/claude-code@"+in.Agent.Recipe.BuildArgs[agentimage.ArgCLIVersion]+"\n" {
		t.Errorf("the recipe installed %q", got)
	}

	// A second apply finds the image by its tag and builds nothing.
	progress.Reset()
	in.ConfigHash.Agent = "sha256:agent-2"
	if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if progress.Len() != 0 {
		t.Errorf("rebuilt an image that exists:\n%s", progress.String())
	}
	destroy(t, b, p)
}

// TestRecipeWithoutBaseNamesStepAndFix: with a base that is not on the
// machine (and no registry to pull it from), the build fails at FROM and
// the error says to build FROM a local base with --agent-base. The
// base's name is one no registry holds, so the Engine's pull attempt
// fails wherever the test runs.
func TestRecipeWithoutBaseNamesStepAndFix(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	p := recipePlan(t, project, "bottleplan.invalid/no-such-base:none")
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t)})
	_, err := converge(t, b, p, false, executor.ApplyOptions{})
	var be *docker.BuildError
	if err == nil || !errors.As(err, &be) || !strings.Contains(be.Step, "FROM") || !strings.Contains(err.Error(), "--agent-base") {
		t.Fatalf("error = %v, want the FROM step named and --agent-base as the fix", err)
	}
	if got := dockertest.Owned(t, eng, project); len(got) != 0 {
		t.Errorf("a failed build left %v", got)
	}
}

// TestRecipeFromAnotherVersionIsStale: a plan whose recipe digest this
// binary does not produce (another bottleplan made it) is refused as
// stale before anything is built.
func TestRecipeFromAnotherVersionIsStale(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	p := recipePlan(t, project, dockertest.StandinBase(t, eng))
	p.Instances[0].Agent.Recipe.BuildArgs[agentimage.ArgCLIVersion] = "0.0.1"
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t)})
	if _, err := converge(t, b, p, false, executor.ApplyOptions{}); !errors.Is(err, executor.ErrStale) {
		t.Fatalf("error = %v, want executor.ErrStale", err)
	}
}
