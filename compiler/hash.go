package compiler

import (
	"fmt"

	"github.com/bottleplan/bottleplan/plan"
	"github.com/bottleplan/bottleplan/schema"
)

// manifestDigest is "sha256:" of the canonical JSON (plan.CanonicalJSON,
// the plan file's own encoding) of the resolved
// manifest (defaults applied, extends resolved, prompt files read by the
// loader). The manifest holds no absolute paths and no host env values,
// so the digest is the same on every machine.
func manifestDigest(m *schema.Manifest) (string, error) {
	d, err := plan.CanonicalDigest(m)
	if err != nil {
		return "", fmt.Errorf("manifest digest: %w", err)
	}
	return d, nil
}

// configHashes computes the three hashes of an instance whose other
// fields are filled: each the canonical digest of plan.ConfigParts.
func configHashes(in *plan.Instance) plan.ConfigHash {
	return plan.ConfigHash{
		Network: mustDigest(plan.ConfigParts(in, plan.ConfigNetwork)),
		Bundle:  mustDigest(plan.ConfigParts(in, plan.ConfigBundle)),
		Agent:   mustDigest(plan.ConfigParts(in, plan.ConfigAgent)),
	}
}

// mustDigest is plan.CanonicalDigest (SHA256 of CanonicalJSON) of a hash input: keys
// sorted, nil and empty collections alike, so neither struct field order
// nor nil-versus-empty moves a hash. The inputs are plain data by
// construction (strings, ints, bools, slices and maps of them), so
// encoding cannot fail.
func mustDigest(v any) string {
	d, err := plan.CanonicalDigest(v)
	if err != nil {
		panic(fmt.Sprintf("compiler: hashing plain data: %v", err))
	}
	return d
}
