package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/docker/docker/api/types/build"
)

// LabelImage is set on every image the backend builds, with what it is
// (one of the ImageKind values): `destroy --rmi` and the CI check of
// leftover images find bottleplan's images by it. Images built before
// it existed are found by their repository (BundleImageRepo,
// AgentImageRepo, plan.RecipeImageRepo).
const LabelImage = "io.bottleplan.image"

// ImageKind values of LabelImage.
const (
	ImageKindBundle          = "bundle"
	ImageKindAgentRecipe     = "agent-recipe"
	ImageKindAgentDockerfile = "agent-dockerfile"
)

// buildRequest is one image build through the Engine.
type buildRequest struct {
	context    io.Reader
	ref        string
	dockerfile string
	args       map[string]*string
	kind       string
	// progress, when set, receives the build's output as it streams.
	progress io.Writer
}

// BuildError is a failed build: the Dockerfile step that failed (as the
// builder numbers it, "Step 3/9 : RUN ...", "" when the build failed
// before its first step) and the builder's message.
type BuildError struct {
	Step string
	Err  error
}

func (e *BuildError) Error() string {
	if e.Step == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%s: %v", e.Step, e.Err)
}

func (e *BuildError) Unwrap() error { return e.Err }

// stepLine matches the classic builder's step headers.
var stepLine = regexp.MustCompile(`^Step \d+/\d+ : `)

// build is buildImage with the backend's progress writer.
func (b *Backend) build(ctx context.Context, r buildRequest) error {
	if r.progress == nil {
		r.progress = b.opts.BuildProgress
	}
	return buildImage(ctx, b.eng, r)
}

// buildImage builds r.context through the Engine and tags the result
// r.ref. It never asks the Engine to pull a newer base (PullParent is
// off): a base that is on the machine is used as it is. A failure is a
// *BuildError naming the step.
func buildImage(ctx context.Context, eng Engine, r buildRequest) error {
	labels := map[string]string{}
	if r.kind != "" {
		labels[LabelImage] = r.kind
	}
	resp, err := eng.ImageBuild(ctx, r.context, build.ImageBuildOptions{
		Tags:        []string{r.ref},
		Dockerfile:  r.dockerfile,
		BuildArgs:   r.args,
		Labels:      labels,
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
	})
	if err != nil {
		return &BuildError{Err: err}
	}
	defer resp.Body.Close()
	// The build streams JSON messages; a failure is one with "error".
	dec := json.NewDecoder(resp.Body)
	step := ""
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return &BuildError{Step: step, Err: fmt.Errorf("read build output: %w", err)}
		}
		if s := strings.TrimSpace(msg.Stream); stepLine.MatchString(s) {
			step = s
		}
		if r.progress != nil && msg.Stream != "" {
			io.WriteString(r.progress, msg.Stream)
		}
		if msg.Error != "" {
			return &BuildError{Step: step, Err: errors.New(strings.TrimSpace(msg.Error))}
		}
	}
}
