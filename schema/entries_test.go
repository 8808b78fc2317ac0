package schema

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"
)

// TestEntryModeMatchesWhole loads every manifest of the validate scripts
// and the test data through entry mode and the whole-value path and wants
// the same result: the same errors, or the same manifest.
func TestEntryModeMatchesWhole(t *testing.T) {
	for name, in := range corpus(t) {
		t.Run(name, func(t *testing.T) {
			entry := load(t, in.dir, in.paths, pathEntry)
			whole := load(t, in.dir, in.paths, pathWhole)
			if d := cmp.Diff(whole, entry); d != "" {
				t.Errorf("entry mode differs from the whole path (-whole +entry):\n%s", d)
			}
		})
	}
}

// input is one manifest of the corpus: paths relative to dir.
type input struct {
	dir   string
	paths []string
}

// corpus returns the manifests of the validate scripts and the test data.
func corpus(t *testing.T) map[string]input {
	t.Helper()
	scripts, err := filepath.Glob("../testdata/script/validate_*.txtar")
	if err != nil || len(scripts) < 60 {
		t.Fatalf("found %d validate scripts (%v), want the corpus", len(scripts), err)
	}
	inputs := map[string]input{
		"formats": {".", []string{"testdata/formats/manifest.yaml"}},
		"json":    {".", []string{"testdata/formats/manifest.json"}},
		"bench":   {".", []string{genManifest(t, t.TempDir(), 5)}},
	}
	for _, s := range scripts {
		a, err := txtar.ParseFile(s)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for _, f := range a.Files {
			writeFile(t, dir, f.Name, string(f.Data))
		}
		var paths []string
		for _, line := range strings.Split(string(a.Comment), "\n") {
			fields := strings.Fields(line)
			for i, f := range fields {
				if f == "-f" && i+1 < len(fields) {
					paths = append(paths, fields[i+1])
				}
			}
			if len(paths) > 0 {
				break
			}
		}
		if len(paths) > 0 {
			inputs[filepath.Base(s)] = input{dir, paths}
		}
	}
	return inputs
}

// load returns the manifest as JSON and its warnings, or the error
// text, of one input loaded on path.
func load(t *testing.T, dir string, paths []string, path loadPath) string {
	t.Helper()
	m, err := LoadWith(Options{Dir: dir, path: path}, paths...)
	if err != nil {
		return err.Error()
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n" + m.Warnings.Error()
}

// TestParallelEntriesMatchWhole checks a manifest big enough for entry
// mode to use several workers, with errors in many entries, against the
// whole-value path (which is sequential). Run it with -race.
func TestParallelEntriesMatchWhole(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("version: 1\nbottles:\n")
	for i := range 3 * parallelMin {
		fmt.Fprintf(&b, "  b%d:\n", i)
		switch i % 4 {
		case 0:
			b.WriteString("    runtime: podman\n")
		case 1:
			b.WriteString("    env: {HTTPS_PROXY: x, A: \"${B\"}\n    egres: {}\n")
		case 2:
			fmt.Fprintf(&b, "    extends: b%d\n    egress: {routes: [{host: 10.0.0.1}, {host: ok.example.com}]}\n", i-1)
		default:
			b.WriteString("    supervise: true\n")
		}
	}
	b.WriteString("agents:\n")
	for i := range 3 * parallelMin {
		fmt.Fprintf(&b, "  a%d: {bottle: b%d, promt: x}\n", i, i+i%2)
	}
	writeFile(t, dir, "m.yaml", b.String())
	entry := load(t, dir, []string{"m.yaml"}, pathEntry)
	whole := load(t, dir, []string{"m.yaml"}, pathWhole)
	if d := cmp.Diff(whole, entry); d != "" {
		t.Errorf("parallel entry mode differs from the whole path (-whole +entry):\n%s", d)
	}
	if n := strings.Count(entry, "\n") + 1; n < 4*parallelMin {
		t.Errorf("%d errors, want at least %d:\n%s", n, 4*parallelMin, entry)
	}
}
