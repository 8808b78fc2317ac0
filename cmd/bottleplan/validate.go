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
		usage: "validate [-f M]... [--json]",
		short: "Check a manifest against the schema and every rule",
		flags: func(fs *pflag.FlagSet) func(*env, []string) error {
			files := manifestFlag(fs)
			asJSON := fs.Bool("json", false, "print problems as a JSON list of {file, line, column, path, message}")
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q (give manifests with -f)", args[0])
				}
				return runValidate(e, *files, *asJSON)
			}
		},
		example: "bottleplan validate\nbottleplan validate -f bottleplan.yaml --json",
	})
}

// runValidate loads the manifest and prints either a one-line summary or
// every problem, one per line (or as JSON).
func runValidate(e *env, files []string, asJSON bool) error {
	m, err := loadManifest(files)
	if err != nil {
		var errs schema.Errors
		if asJSON && errors.As(err, &errs) {
			if len(errs) == 0 {
				// schema.Load never fails without a problem; should it,
				// print a list, never null.
				errs = schema.Errors{{Message: "the manifest is not valid"}}
			}
			enc := json.NewEncoder(e.stdout)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(errs); err != nil {
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
		fmt.Fprintln(e.stdout, "[]")
		return nil
	}
	fmt.Fprintf(e.stdout, "valid: %s, %s\n", plural(len(m.Bottles), "bottle"), plural(len(m.Agents), "agent"))
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
