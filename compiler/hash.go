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

// hashVersion is bumped when the hash inputs change meaning.
const hashVersion = 1

// configHashes computes the three hashes of an instance whose other
// fields are filled: each the canonical digest of plan.ConfigParts plus
// "resource" and "v", which keep hashes of different resources and of
// different versions of the parts apart.
func configHashes(in *plan.Instance) plan.ConfigHash {
	hash := func(r plan.ConfigResource) string {
		parts := plan.ConfigParts(in, r)
		parts["resource"], parts["v"] = string(r), hashVersion
		return mustDigest(parts)
	}
	return plan.ConfigHash{
		Network: hash(plan.ConfigNetwork),
		Bundle:  hash(plan.ConfigBundle),
		Agent:   hash(plan.ConfigAgent),
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
