package schema

import (
	"strings"
	"testing"

	"cuelang.org/go/cue"
)

// TestSchemaTreeMatchesCUE keeps mapElems and listElems in step with the
// CUE schema: every list field and every struct field without fixed
// fields (a map) must be spelled there, or the key walk would stop at it.
func TestSchemaTreeMatchesCUE(t *testing.T) {
	sc, err := getSchema()
	if err != nil {
		t.Fatal(err)
	}
	root := sc.manifest.Context().CompileString(Source())
	it, err := root.Fields(cue.Definitions(true))
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		def := it.Selector().String()
		check(t, def, it.Value())
	}
}

func check(t *testing.T, path string, v cue.Value) {
	t.Helper()
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return
	}
	for it.Next() {
		name := it.Selector().Unquoted()
		fv := it.Value()
		p := path + "." + name
		switch fv.IncompleteKind() {
		case cue.ListKind:
			if _, ok := listElems[name]; !ok {
				t.Errorf("%s is a list but listElems lacks %q", p, name)
			}
		case cue.StructKind:
			n := 0
			fit, _ := fv.Fields(cue.Optional(true))
			for fit.Next() {
				n++
			}
			_, isMap := mapElems[name]
			if n == 0 && !isMap {
				t.Errorf("%s is a map but mapElems lacks %q", p, name)
			}
			if n > 0 && isMap {
				t.Errorf("%s has fixed fields but mapElems lists %q", p, name)
			}
			if !strings.HasPrefix(name, "#") {
				check(t, p, fv)
			}
		}
	}
}

// TestSourceIsTheSchema: `bottleplan schema` prints what Load uses.
func TestSourceIsTheSchema(t *testing.T) {
	src := Source()
	for _, want := range []string{"#Manifest: {", "#Bottle: {", "#Agent: {", "package schema"} {
		if !strings.Contains(src, want) {
			t.Errorf("Source() lacks %q", want)
		}
	}
}
