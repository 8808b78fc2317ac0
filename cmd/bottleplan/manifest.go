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

// loadManifest loads the manifest named by -f (or the default). Schema
// errors come back as schema.Errors for the caller to print.
func loadManifest(files []string) (*schema.Manifest, error) {
	paths, err := manifestPaths(files)
	if err != nil {
		return nil, err
	}
	return schema.Load(paths...)
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
