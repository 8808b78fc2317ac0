package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// versionString is what --version prints: the main module's version
// (a tag such as v0.3.0 when installed with go install ...@version,
// "(devel)" when built from a checkout), the VCS revision the binary was
// built from (with "modified" when the tree had uncommitted changes),
// and the Go version. All of it comes from the build info the Go
// toolchain embeds; a build without VCS stamping (-buildvcs=false, or
// outside a checkout) says so instead of a revision.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	return formatVersion(bi, ok)
}

func formatVersion(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "bottleplan (unknown version: built without module support)"
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	setting := map[string]string{}
	for _, s := range bi.Settings {
		setting[s.Key] = s.Value
	}
	rev := "revision unknown (built without VCS stamping)"
	if r := setting["vcs.revision"]; r != "" {
		rev = "revision " + r
		if t := setting["vcs.time"]; t != "" {
			rev += " (" + t + ")"
		}
		if setting["vcs.modified"] == "true" {
			rev += ", modified"
		}
	}
	return fmt.Sprintf("bottleplan %s, %s, %s", version, rev, bi.GoVersion)
}

// versionCommand is `bottleplan version`, the same as --version.
func versionCommand() *command {
	return &command{
		name:    "version",
		usage:   "version",
		short:   "print the version and the VCS revision bottleplan was built from",
		example: "bottleplan version",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				fmt.Fprintln(e.stdout, versionString())
				return nil
			}
		},
	}
}
