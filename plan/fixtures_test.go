package plan

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

// scriptFixtures are the plan files the CLI scripts
// (testdata/script/show_*.txtar, diff_*.txtar) embed, by section name.
// A plan file needs a valid digest, so they are generated here rather
// than written by hand: TestScriptFixtures checks every section with one
// of these names against what the builders make now, and rewrites it
// with -update.
func scriptFixtures(t *testing.T) map[string][]byte {
	t.Helper()
	enc := func(p *Plan) []byte {
		b, err := Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	changed := examplePlan()
	changedExample(changed)
	example := enc(examplePlan())

	// altered.json: one byte of example.json changed, digest untouched.
	altered := bytes.Replace(bytes.Clone(example), []byte(`"host": "pypi.org"`), []byte(`"host": "pypi.orh"`), 1)
	// format2.json: a plan from a future bottleplan.
	format2 := bytes.Replace(bytes.Clone(example), []byte(`"format_version": 1`), []byte(`"format_version": 2`), 1)
	return map[string][]byte{
		"example.json": example,
		"changed.json": enc(changed),
		"minimal.json": enc(minimalPlan()),
		"altered.json": altered,
		"format2.json": format2,
	}
}

func TestScriptFixtures(t *testing.T) {
	fixtures := scriptFixtures(t)
	var scripts []string
	for _, pattern := range []string{"show_*.txtar", "diff_*.txtar"} {
		m, err := filepath.Glob(filepath.Join("..", "testdata", "script", pattern))
		if err != nil {
			t.Fatal(err)
		}
		scripts = append(scripts, m...)
	}
	if len(scripts) == 0 {
		t.Skip("no show_ or diff_ scripts yet")
	}
	for _, path := range scripts {
		t.Run(filepath.Base(path), func(t *testing.T) {
			a, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			dirty := false
			for i, f := range a.Files {
				want, ok := fixtures[f.Name]
				if !ok || bytes.Equal(f.Data, want) {
					continue
				}
				if !*update {
					t.Errorf("section %s is stale (run go test ./plan -update):\n%s", f.Name, cmp.Diff(string(want), string(f.Data)))
					continue
				}
				a.Files[i].Data = want
				dirty = true
			}
			if dirty {
				if err := os.WriteFile(path, txtar.Format(a), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
