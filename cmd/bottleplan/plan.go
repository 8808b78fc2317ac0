package main

import (
	"fmt"
	"github.com/bottleplan/bottleplan/agentimage"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/compiler"
	"github.com/bottleplan/bottleplan/plan"
	"github.com/bottleplan/bottleplan/schema"
)

func init() {
	register(&command{
		name:  "plan",
		usage: "plan [-f M]... [-o plan.json | --check plan.json] [--json] [--strict] [--unroutable-bridge] [--agent-base IMAGE]",
		short: "Compile the manifest into a plan, print it for review and write the plan file",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			files := manifestFlag(fs)
			out := fs.StringP("out", "o", "", "write the plan file to `path` (for apply)")
			asJSON := fs.Bool("json", false, "print the plan file itself (canonical JSON) instead of the review summary")
			strict := strictFlag(fs)
			unroutable := fs.Bool("unroutable-bridge", false, "the apply host cannot route to bridge IPs (Docker Desktop): smolmachines endpoints are assigned at apply")
			check := fs.String("check", "", "write nothing; exit 0 when the committed plan `file` is what the manifest compiles to, 2 with the diff when stale, 3 when edited by hand")
			agentBase := fs.String("agent-base", "", "build template agent images FROM this local `image` instead of "+agentimage.DefaultBase+" (a host without a registry)")
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q (give manifests with -f)", args[0])
				}
				if *check != "" {
					if *out != "" || *asJSON {
						return usagef("--check writes and prints no plan; leave out -o and --json")
					}
					return runPlanCheck(e, *files, *check, *strict, compiler.Options{UnroutableBridge: *unroutable, AgentBase: *agentBase})
				}
				return runPlan(e, *files, *out, *asJSON, *strict, compiler.Options{UnroutableBridge: *unroutable, AgentBase: *agentBase})
			}
		},
		example: "bottleplan plan -f bottleplan.yaml -o plan.json   # review, then commit plan.json\nbottleplan plan --check plan.json                 # CI: exit 2 when plan.json is stale\nbottleplan plan -f base.cue -f local.cue --json",
	})
}

// runPlan loads and compiles the manifest, writes the plan file when -o
// is given, and prints the review summary (or the plan file with
// --json). Nothing is written when the manifest does not compile.
func runPlan(e *env, files []string, out string, asJSON, strict bool, opts compiler.Options) error {
	p, b, err := compileManifest(e, files, strict, opts)
	if err != nil {
		return err
	}
	if out != "" {
		if err := writeFileAtomic(out, b); err != nil {
			return fmt.Errorf("write plan: %w", err)
		}
	}
	if asJSON {
		_, err := e.stdout.Write(b)
		return err
	}
	if err := plan.Render(e.stdout, p, reviewOptions(e)); err != nil {
		return err
	}
	if out != "" {
		fmt.Fprintf(e.stdout, "\nPlan written to %s. Review it, then run: bottleplan apply %s\n", out, out)
	} else {
		fmt.Fprintln(e.stdout, "\nPlan not saved; use -o plan.json to write it for bottleplan apply.")
	}
	return nil
}

// compileManifest loads the manifest named by -f (or the default) and
// compiles it, as plan and plan --check do. Schema errors are printed
// one per line, like validate prints them.
func compileManifest(e *env, files []string, strict bool, opts compiler.Options) (*plan.Plan, []byte, error) {
	m, err := loadManifest(e, files, strict)
	if err != nil {
		if printSchemaErrors(e, err) {
			return nil, nil, silent(exitError)
		}
		return nil, nil, err
	}
	printWarnings(e, m)
	return compilePlan(m, opts)
}

// compilePlan compiles a loaded manifest and returns the plan with its
// digest set and its canonical bytes: the plan file. The golden tests
// drive this same function.
func compilePlan(m *schema.Manifest, opts compiler.Options) (*plan.Plan, []byte, error) {
	p, err := compiler.Compile(m, opts)
	if err != nil {
		return nil, nil, err
	}
	b, err := plan.Encode(p)
	if err != nil {
		return nil, nil, err
	}
	return p, b, nil
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory and a rename, so a reader (or an interrupted plan) never sees
// half a plan file. A path that exists and is not a regular file
// (/dev/null, a named pipe) is written in place: renaming over it would
// replace a device node with a plan file (`plan -o /dev/null` as root).
func writeFileAtomic(path string, b []byte) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		return os.WriteFile(path, b, 0o644)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".plan-*.json")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
