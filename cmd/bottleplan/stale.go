package main

import (
	"errors"
	"fmt"

	"github.com/bottleplan/bottleplan/plan"
)

// manifestDigest loads and compiles the manifest files and returns the
// manifest_digest a plan made from them now would carry. It is a
// variable so the loader and compiler can be wired in one place.
var manifestDigest = func(files []string) (string, error) {
	return "", errors.New("checking a plan against its manifest (-f) needs the manifest loader and compiler, which this build lacks; run apply without -f")
}

// checkStale refuses (exit 3) a plan whose manifest_digest differs from
// the digest of the manifest given with -f: the manifest changed after
// the plan was reviewed.
func checkStale(p *plan.Plan, manifests []string) error {
	if len(manifests) == 0 {
		return nil
	}
	d, err := manifestDigest(manifests)
	if err != nil {
		return err
	}
	if d != p.ManifestDigest {
		return withCode(exitRefused, fmt.Errorf("plan refused: it is stale: the manifest changed since it was made (manifest %s, plan %s); run bottleplan plan again and review the new plan", d, p.ManifestDigest))
	}
	return nil
}
