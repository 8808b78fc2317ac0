package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/bottleplan/bottleplan/schema"
	"github.com/spf13/pflag"
)

// defaultManifests are tried in order in the working directory when no
// -f is given.
var defaultManifests = []string{"bottleplan.cue", "bottleplan.yaml"}

// manifestFlag registers the repeatable -f flag shared by validate, plan
// and apply.
func manifestFlag(fs *pflag.FlagSet) *[]string {
	return fs.StringArrayP("file", "f", nil, "manifest `file` or directory (repeat to unify several; default bottleplan.cue, else bottleplan.yaml)")
}

// manifestPaths returns the -f values, or the default manifest of the
// working directory.
func manifestPaths(files []string) ([]string, error) {
	if len(files) > 0 {
		return files, nil
	}
	for _, name := range defaultManifests {
		if _, err := os.Stat(name); err == nil {
			return []string{name}, nil
		}
	}
	return nil, fmt.Errorf("no manifest: found neither %s nor %s here; give one with -f", defaultManifests[0], defaultManifests[1])
}

// strictFlag registers --strict, shared by validate and plan.
func strictFlag(fs *pflag.FlagSet) *bool {
	return fs.Bool("strict", false, "treat warnings (unsafe but valid policy) as errors")
}

// loadManifest loads the manifest named by -f (or the default). "~/" in
// ssh key paths is $HOME for the key-file check. Schema errors (with the
// warnings among them) come back as schema.Errors for the caller to
// print; strict makes every warning an error. The caller prints the
// warnings of a valid manifest (printWarnings).
func loadManifest(e *env, files []string, strict bool) (*schema.Manifest, error) {
	paths, err := manifestPaths(files)
	if err != nil {
		return nil, err
	}
	return schema.LoadWith(schema.Options{Home: e.getenv("HOME"), Strict: strict}, paths...)
}

// printWarnings prints the warnings of a valid manifest to stderr, one
// per line.
func printWarnings(e *env, m *schema.Manifest) {
	for _, w := range m.Warnings {
		fmt.Fprintln(e.stderr, w.Error())
	}
}

// printSchemaErrors prints err one problem per line when it is a
// schema.Errors and reports whether it was.
func printSchemaErrors(e *env, err error) bool {
	var errs schema.Errors
	if !errors.As(err, &errs) {
		return false
	}
	for _, x := range errs {
		fmt.Fprintln(e.stderr, x.Error())
	}
	return true
}
