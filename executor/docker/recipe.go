package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bottleplan/bottleplan/agentimage"
	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// ensureRecipeImage returns the image of a template agent whose plan
// carries a recipe (plan.Agent.Recipe), building it from the recipe
// embedded in this binary when the Engine does not have it. A plan whose
// recipe this binary would not build the same way (another bottleplan
// version made it) is stale.
func (b *Backend) ensureRecipeImage(ctx context.Context, in *plan.Instance) (string, error) {
	r := in.Agent.Recipe
	want, err := agentimage.Digest(r)
	if err != nil {
		return "", err
	}
	if want != r.Digest || agentimage.Image(r) != in.Agent.Image {
		return "", fmt.Errorf("%w: the plan's %s image recipe (%s) is not this bottleplan's (%s); run bottleplan plan again and review the new plan",
			executor.ErrStale, r.Template, r.Digest, want)
	}
	ref := in.Agent.Image
	if _, err := b.eng.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	} else if !isNotFound(err) {
		return "", fmt.Errorf("inspect image %q: %w", ref, err)
	}
	base := r.BuildArgs[agentimage.ArgBase]
	if _, err := b.eng.ImageInspect(ctx, base); isNotFound(err) {
		b.log("Building the agent image %s of instance %q from the %s recipe; its base %s is not on this machine, so the Engine pulls it", ref, in.Slug, r.Template, base)
	} else {
		b.log("Building the agent image %s of instance %q from the %s recipe FROM %s", ref, in.Slug, r.Template, base)
	}
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: agentimage.DockerfileName, Mode: 0o644, Size: int64(len(agentimage.Dockerfile))}); err != nil {
		return "", err
	}
	if _, err := tw.Write([]byte(agentimage.Dockerfile)); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	args := map[string]*string{}
	for k, v := range r.BuildArgs {
		args[k] = &v
	}
	err = b.build(ctx, buildRequest{context: &ctxTar, ref: ref, dockerfile: agentimage.DockerfileName, args: args, kind: ImageKindAgentRecipe})
	if err != nil {
		return "", recipeBuildError(ref, r, err)
	}
	return ref, nil
}

// recipeBuildError names the step of a failed recipe build and what to
// do about it. The usual cause on a host without a registry is the base
// (FROM) or the package steps, which fetch from the internet.
func recipeBuildError(ref string, r *plan.Recipe, err error) error {
	base := r.BuildArgs[agentimage.ArgBase]
	step := ""
	var be *BuildError
	if errors.As(err, &be) {
		step = be.Step
	}
	instr := ""
	if _, after, ok := strings.Cut(step, " : "); ok {
		instr, _, _ = strings.Cut(after, " ")
	}
	fix := "fix what the step reports and run apply again, or build the image yourself and name it with agent_provider.image"
	switch {
	case instr == "FROM" || step == "":
		fix = fmt.Sprintf("the base image %s is neither on this machine nor pullable (no registry?): build FROM a local base with `bottleplan plan --agent-base IMAGE` (an image with sh, apt-get and npm, such as a node:22 slim image loaded with docker load), then apply the new plan", base)
	case instr == "RUN" && strings.Contains(step, "apt-get"):
		fix = fmt.Sprintf("apt-get could not install git and ca-certificates (no network to the Debian mirrors?): build FROM a local base that can (`bottleplan plan --agent-base IMAGE`), or build the image yourself and name it with agent_provider.image")
	case instr == "RUN" && strings.Contains(step, "npm"):
		fix = fmt.Sprintf("npm could not install %s@%s (no network to the npm registry?): build FROM a local base that can (`bottleplan plan --agent-base IMAGE`), or build the image yourself and name it with agent_provider.image",
			r.BuildArgs[agentimage.ArgCLIPackage], r.BuildArgs[agentimage.ArgCLIVersion])
	}
	return fmt.Errorf("build agent image %s from the %s recipe: %w\n%s", ref, r.Template, err, fix)
}
