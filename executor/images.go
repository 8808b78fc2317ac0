package executor

import (
	"context"

	"github.com/bottleplan/bottleplan/plan"
)

// ImageCleaner is implemented by backends that build images for a
// project (the bundle image, agent images from recipes and Dockerfiles):
// `destroy --rmi` removes them with the project.
type ImageCleaner interface {
	// BuiltImages returns the references of the images the backend built
	// that obs's containers of instance (all instances when "") run, and
	// the recipe images p's instances name; images it did not build are
	// never among them. Call it before the containers are removed.
	BuiltImages(ctx context.Context, obs *Observed, p *plan.Plan, instance string) ([]string, error)
	// RemoveImages removes each of refs that no container uses, and says
	// for each what became of it.
	RemoveImages(ctx context.Context, refs []string) ([]ImageRemoval, error)
}

// ImageRemoval is what RemoveImages did with one image.
type ImageRemoval struct {
	Ref     string
	Removed bool
	// Why it was kept (the containers that use it), when not removed.
	Why string
}
