package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestManifestRoot: the root agent.dockerfile paths resolve from is the
// schema's manifest root, whatever the order of -f.
func TestManifestRoot(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a/x", "a/y", "b"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	for _, f := range []string{"a/x/m.yaml", "a/y/n.yaml", "b/o.yaml"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	j := func(p string) string { return filepath.Join(dir, p) }
	tests := map[string]struct {
		plan  string
		files []string
		want  string
	}{
		"no -f: the plan's directory":    {plan: j("b/plan.json"), want: j("b")},
		"one file: its directory":        {files: []string{j("a/x/m.yaml")}, want: j("a/x")},
		"a directory: itself":            {files: []string{j("a/y")}, want: j("a/y")},
		"siblings: their parent":         {files: []string{j("a/x/m.yaml"), j("a/y/n.yaml")}, want: j("a")},
		"order does not matter":          {files: []string{j("a/y/n.yaml"), j("a/x/m.yaml")}, want: j("a")},
		"far apart: the common ancestor": {files: []string{j("b/o.yaml"), j("a/x/m.yaml")}, want: dir},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := manifestRoot(tc.plan, tc.files)
			if err != nil || got != tc.want {
				t.Errorf("manifestRoot = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
