package main

import (
	"fmt"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/smolvm"
	"github.com/bottleplan/bottleplan/plan"
)

// imageCleanup is destroy --rmi's work: the images apply built for what
// destroy removes, found before the containers go.
type imageCleanup struct {
	c    executor.ImageCleaner
	refs []string
}

// builtImages finds the images apply built for obs's containers of
// instance (all when "") and p's recipe images.
func builtImages(e *env, b executor.Backend, obs *executor.Observed, p *plan.Plan, instance string) (*imageCleanup, error) {
	if h, ok := b.(*smolvm.Hybrid); ok {
		b = h.Docker // images live in the Docker Engine
	}
	c, ok := b.(executor.ImageCleaner)
	if !ok {
		return nil, fmt.Errorf("--rmi: this backend builds no images")
	}
	refs, err := c.BuiltImages(e.ctx, obs, p, instance)
	if err != nil {
		return nil, err
	}
	return &imageCleanup{c: c, refs: refs}, nil
}

// remove removes the images no container uses any more and prints what
// became of each; nil does nothing (no --rmi).
func (ic *imageCleanup) remove(e *env) error {
	if ic == nil {
		return nil
	}
	done, err := ic.c.RemoveImages(e.ctx, ic.refs)
	n := 0
	for _, r := range done {
		if r.Removed {
			n++
			fmt.Fprintf(e.stdout, "image %s: removed\n", r.Ref)
		} else {
			fmt.Fprintf(e.stdout, "image %s: kept (%s)\n", r.Ref, r.Why)
		}
	}
	if err != nil {
		return fmt.Errorf("--rmi: %w", err)
	}
	fmt.Fprintf(e.stdout, "Images: %d removed, %d kept.\n", n, len(done)-n)
	return nil
}
