package docker

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

var _ executor.ImageCleaner = (*Backend)(nil)

// builtRef reports whether ref is a tag apply gives the images it builds:
// the bundle image, agent images from a Dockerfile, recipe images. Only
// apply makes those repositories, so the tag alone says it (images built
// before LabelImage existed carry no label).
func builtRef(ref string) bool {
	repo, _, ok := strings.Cut(ref, ":")
	return ok && (repo == BundleImageRepo || repo == AgentImageRepo || strings.HasPrefix(repo, plan.RecipeImageRepo("")))
}

// BuiltImages implements executor.ImageCleaner: the bottleplan-built
// tags of the images obs's containers run, and the recipe images p
// names (which stay when their agent is already gone).
func (b *Backend) BuiltImages(ctx context.Context, obs *executor.Observed, p *plan.Plan, instance string) ([]string, error) {
	var refs []string
	ids := map[string]bool{}
	for _, r := range obs.Resources {
		if r.Role.IsNetwork() || r.ImageID == "" || (instance != "" && r.Instance != instance) || ids[r.ImageID] {
			continue
		}
		ids[r.ImageID] = true
		img, err := b.eng.ImageInspect(ctx, r.ImageID)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("inspect image %s: %w", r.ImageID, err)
		}
		for _, t := range img.RepoTags {
			if builtRef(t) {
				refs = append(refs, t)
			}
		}
	}
	for _, in := range p.Instances {
		if in.Agent.Recipe != nil && (instance == "" || in.Slug == instance) {
			refs = append(refs, in.Agent.Image)
		}
	}
	slices.Sort(refs)
	return slices.Compact(refs), nil
}

// RemoveImages implements executor.ImageCleaner. An image some container
// still uses (another project's bundle runs the same bundle image, a
// container outside bottleplan may be built on it) is kept, naming the
// containers; one that is gone counts as removed. Only the tag is
// removed (with the untagged parents it leaves), never forced: another
// tag on the same image keeps it.
func (b *Backend) RemoveImages(ctx context.Context, refs []string) ([]executor.ImageRemoval, error) {
	var out []executor.ImageRemoval
	for _, ref := range refs {
		if !builtRef(ref) {
			return out, fmt.Errorf("image %s was not built by bottleplan; destroy --rmi leaves it alone", ref)
		}
		if _, err := b.eng.ImageInspect(ctx, ref); isNotFound(err) {
			continue
		}
		users, err := b.eng.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("ancestor", ref))})
		if err != nil {
			return out, fmt.Errorf("list the containers of image %s: %w", ref, err)
		}
		if len(users) > 0 {
			var names []string
			for _, c := range users {
				if len(c.Names) > 0 {
					names = append(names, strings.TrimPrefix(c.Names[0], "/"))
				}
			}
			slices.Sort(names)
			out = append(out, executor.ImageRemoval{Ref: ref, Why: "used by " + strings.Join(names, ", ")})
			continue
		}
		if _, err := b.eng.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}); err != nil && !isNotFound(err) {
			out = append(out, executor.ImageRemoval{Ref: ref, Why: err.Error()})
			continue
		}
		out = append(out, executor.ImageRemoval{Ref: ref, Removed: true})
	}
	return out, nil
}
