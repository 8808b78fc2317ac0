package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bottleplan/bottleplan/schema"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:  "validate",
		usage: "validate [-f M]... [--json] [--strict]",
		short: "Check a manifest against the schema and every rule",
		flags: func(fs *pflag.FlagSet) func(*env, []string) error {
			files := manifestFlag(fs)
			asJSON := fs.Bool("json", false, "print problems as a JSON list of {file, line, column, path, message, warning}")
			strict := strictFlag(fs)
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q (give manifests with -f)", args[0])
				}
				return runValidate(e, *files, *asJSON, *strict)
			}
		},
		example: "bottleplan validate\nbottleplan validate -f bottleplan.yaml --json",
	})
}

// runValidate loads the manifest and prints either a one-line summary or
// every problem, one per line (or as JSON). Warnings go to stderr, before
// the summary, and leave the exit code 0 unless strict; with --json they
// are the list, each marked "warning": true.
func runValidate(e *env, files []string, asJSON, strict bool) error {
	m, err := loadManifest(e, files, strict)
	if err != nil {
		var errs schema.Errors
		if asJSON && errors.As(err, &errs) {
			if len(errs) == 0 {
				// schema.Load never fails without a problem; should it,
				// print a list, never null.
				errs = schema.Errors{{Message: "the manifest is not valid"}}
			}
			if err := encodeProblems(e, errs); err != nil {
				return err
			}
			return silent(exitError)
		}
		if printSchemaErrors(e, err) {
			return silent(exitError)
		}
		return err
	}
	if asJSON {
		if len(m.Warnings) == 0 {
			fmt.Fprintln(e.stdout, "[]")
			return nil
		}
		return encodeProblems(e, m.Warnings)
	}
	printWarnings(e, m)
	fmt.Fprintf(e.stdout, "valid: %s, %s\n", plural(len(m.Bottles), "bottle"), plural(len(m.Agents), "agent"))
	return nil
}

// encodeProblems prints problems as an indented JSON list.
func encodeProblems(e *env, problems schema.Errors) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(problems)
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
