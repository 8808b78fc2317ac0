package main

import (
	"encoding/json"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/plan"
)

func init() {
	register(&command{
		name:  "diff",
		usage: "diff old.json new.json [--detailed-exitcode] [--json]",
		short: "Show what changed between two plans, security-relevant changes first",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			detailed := fs.Bool("detailed-exitcode", false, "exit 2 when the plans differ, 0 when they do not")
			asJSON := fs.Bool("json", false, "print the changes as JSON (README: diff --json)")
			return func(e *env, args []string) error {
				if len(args) != 2 {
					return usagef("want two plan files (old and new), got %d arguments", len(args))
				}
				return runDiff(e, args[0], args[1], *detailed, *asJSON)
			}
		},
		example: "bottleplan diff old/plan.json plan.json\nbottleplan diff --json old/plan.json plan.json\nbottleplan diff --detailed-exitcode old/plan.json plan.json   # exit 2 when they differ",
	})
}

// runDiff prints the semantic difference between two saved plans. Both
// must decode: a refused plan exits 3 before anything is compared.
func runDiff(e *env, oldPath, newPath string, detailed, asJSON bool) error {
	old, err := readPlan(oldPath)
	if err != nil {
		return err
	}
	new, err := readPlan(newPath)
	if err != nil {
		return err
	}
	changes := plan.Diff(old, new)
	if asJSON {
		err = writeJSON(e.stdout, newDiffReport(changes))
	} else {
		err = plan.RenderDiff(e.stdout, changes, reviewOptions(e))
	}
	if err != nil {
		return err
	}
	if detailed && len(changes) > 0 {
		return silent(exitChanges)
	}
	return nil
}

// diffReport is `diff --json`: the changes in the order the review
// prints them (security-relevant first). Keys are snake_case and sorted,
// values native JSON, as in the plan file (show --json); changes is
// never null.
type diffReport struct {
	Changes         []diffChange `json:"changes"`
	Differ          bool         `json:"differ"`
	FormatVersion   int          `json:"format_version"`
	SecurityChanges int          `json:"security_changes"`
}

// diffChange is one plan.Change. A field change carries the old and new
// values as the plan file holds them (absent when the field is added or
// removed); a whole instance added or removed (kind instance-added,
// instance-removed, path "") carries a one-line summary instead.
type diffChange struct {
	Instance string          `json:"instance"`
	Kind     string          `json:"kind"`
	New      json.RawMessage `json:"new,omitempty"`
	Old      json.RawMessage `json:"old,omitempty"`
	Path     string          `json:"path"`
	Security bool            `json:"security"`
	Summary  string          `json:"summary,omitempty"`
}

func newDiffReport(changes []plan.Change) diffReport {
	r := diffReport{FormatVersion: jsonFormatVersion, Changes: []diffChange{}, Differ: len(changes) > 0}
	for _, c := range changes {
		if c.Security {
			r.SecurityChanges++
		}
		dc := diffChange{Instance: c.Instance, Kind: c.Kind.String(), Path: c.Path, Security: c.Security}
		if c.Kind == plan.InstanceAdded || c.Kind == plan.InstanceRemoved {
			dc.Summary = c.New + c.Old // one of them is ""
		} else {
			dc.Old, dc.New = rawJSON(c.Old), rawJSON(c.New)
		}
		r.Changes = append(r.Changes, dc)
	}
	return r
}

// rawJSON is s as a JSON value: s itself when it is JSON (as plan.Diff
// writes values), else s as a JSON string; nil for "".
func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}
