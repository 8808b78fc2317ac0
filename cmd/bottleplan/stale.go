package main

import (
	"fmt"

	"github.com/bottleplan/bottleplan/compiler"
	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// checkStale refuses (exit 3) a plan whose manifest_digest differs from
// that of the manifest given with -f, compiled now: the manifest changed
// after the plan was reviewed. Without -f there is nothing to compare
// and the plan is taken as reviewed. A manifest that does not load is an
// error (exit 1) printed like validate prints it.
func checkStale(e *env, p *plan.Plan, manifests []string) error {
	if len(manifests) == 0 {
		return nil
	}
	m, err := loadManifest(e, manifests, false)
	if err != nil {
		if printSchemaErrors(e, err) {
			return silent(exitError)
		}
		return err
	}
	printWarnings(e, m)
	// The digest covers the manifest only; compile options change
	// endpoints, not it.
	now, err := compiler.Compile(m, compiler.Options{})
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if now.ManifestDigest != p.ManifestDigest {
		return withCode(exitRefused, fmt.Errorf("%w: the manifest changed since the plan was made (manifest %s, plan %s); run bottleplan plan again and review the new plan", executor.ErrStale, now.ManifestDigest, p.ManifestDigest))
	}
	return nil
}
