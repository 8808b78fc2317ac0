package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/bottleplan/bottleplan/compiler"
	"github.com/bottleplan/bottleplan/plan"
)

// runPlanCheck is `plan --check FILE`, the gate for committed plans in
// code review and CI. It compiles the manifest as plan would and
// compares the result with FILE byte for byte (the plan file is
// canonical, so equal plans are equal bytes):
//
//   - exit 0: FILE is exactly what the manifest compiles to;
//   - exit 2: FILE is a valid plan but stale: the semantic diff from it
//     to the fresh plan is printed (security-relevant changes first), as
//     `bottleplan diff` would;
//   - exit 3: FILE was edited by hand (its plan_digest no longer matches
//     its content, it was reformatted) or is no plan this bottleplan
//     reads;
//   - exit 1: the manifest does not compile, or FILE cannot be read.
//
// It writes nothing.
func runPlanCheck(e *env, files []string, path string, strict bool, opts compiler.Options) error {
	committed, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read plan: %w", err)
	}
	old, err := plan.Decode(committed)
	if err != nil {
		if looksLikeManifest(path, committed) {
			return usagef("--check %s: this is a manifest; --check takes the committed plan file (give manifests with -f)", path)
		}
		if plan.IsUnusable(err) {
			return withCode(exitRefused, fmt.Errorf("%s was edited by hand or is not a plan file: %w", path, err))
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	now, fresh, err := compileManifest(e, files, strict, opts)
	if err != nil {
		return err
	}
	if bytes.Equal(committed, fresh) {
		fmt.Fprintf(e.stdout, "%s is up to date: it is what the manifest compiles to (%s).\n", path, now.PlanDigest)
		return nil
	}
	changes := plan.Diff(old, now)
	if err := plan.RenderDiff(e.stdout, changes, reviewOptions(e)); err != nil {
		return err
	}
	why := "the manifest compiles to another plan"
	if len(changes) == 0 {
		// Same instances and fields, different digests: the manifest
		// changed in a way that reaches no field the diff shows.
		why = fmt.Sprintf("its manifest_digest is %s, the manifest's is %s", old.ManifestDigest, now.ManifestDigest)
	}
	redo := "bottleplan plan"
	for _, f := range files {
		redo += " -f " + f
	}
	return withCode(exitChanges, errors.New(path+" is stale: "+why+"; run "+redo+" -o "+path+", review the diff and commit it"))
}
