package schema

import (
	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// Entry mode: for manifests made only of YAML and JSON files, the loader
// never builds the whole manifest as one CUE value. It splits the syntax
// trees at the bottles and agents maps, builds the settings as one small
// value, and builds each bottle and agent on its own from its fragments
// (one per file that writes it) just before checking it, then lets it go.
// Memory then holds the syntax trees and one entry at a time, and the
// evaluator never sees a large value. CUE files keep the whole-value path:
// their fields may refer to each other across entries.
//
// Both paths report the same errors; TestEntryModeMatchesWhole runs the
// corpus through both.

// entryMaps are the top-level maps split into entries.
var entryMaps = []string{"bottles", "agents"}

// entry is one bottle or agent in entry mode.
type entry struct {
	frags []ast.Expr
	// label is the position of the entry's key in the first file that
	// writes it.
	label token.Pos
	// v is the built value while the entry is being checked.
	v     cue.Value
	built bool
}

// forceWhole makes Load take the whole-value path even for YAML and JSON
// (tests compare the two paths).
var forceWhole = false

// splitEntries prepares entry mode when every file allows it: it returns
// the settings as syntax (each file's top level with the bottles and
// agents maps emptied) and fills l.entries. It returns nil when the
// manifest must take the whole-value path.
func (l *loader) splitEntries(files []srcFile, asts []*ast.File) []*ast.File {
	if forceWhole {
		return nil
	}
	for _, f := range files {
		if f.ext == ".cue" {
			return nil
		}
	}
	// A bottles or agents that is not a mapping takes the whole path,
	// which words that error.
	for _, af := range asts {
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.Field); ok && isEntryMap(fd) {
				if _, ok := fd.Value.(*ast.StructLit); !ok {
					return nil
				}
			}
		}
	}
	l.entries = map[string]map[string]*entry{}
	l.order = map[string][]string{}
	for _, m := range entryMaps {
		l.entries[m] = map[string]*entry{}
	}
	tops := make([]*ast.File, len(asts))
	for i, af := range asts {
		top := &ast.File{Filename: af.Filename}
		for _, d := range af.Decls {
			fd, ok := d.(*ast.Field)
			if !ok || !isEntryMap(fd) {
				top.Decls = append(top.Decls, d)
				continue
			}
			kind, _, _ := ast.LabelName(fd.Label)
			st := fd.Value.(*ast.StructLit)
			for _, ed := range st.Elts {
				ef, ok := ed.(*ast.Field)
				if !ok {
					continue
				}
				name, _, err := ast.LabelName(ef.Label)
				if err != nil {
					continue
				}
				e := l.entries[kind][name]
				if e == nil {
					e = &entry{label: ef.Label.Pos()}
					l.entries[kind][name] = e
					l.order[kind] = append(l.order[kind], name)
				}
				e.frags = append(e.frags, ef.Value)
			}
			// Keep the map itself, empty, so the settings value still
			// tells that it is present.
			top.Decls = append(top.Decls, &ast.Field{Label: fd.Label, Value: &ast.StructLit{Lbrace: st.Lbrace, Rbrace: st.Rbrace}})
		}
		tops[i] = top
	}
	return tops
}

func isEntryMap(fd *ast.Field) bool {
	name, _, err := ast.LabelName(fd.Label)
	return err == nil && (name == "bottles" || name == "agents")
}

// entryValue builds (or returns the value being checked of) an entry.
func (l *loader) entryValue(kind, name string) (cue.Value, bool) {
	e := l.entries[kind][name]
	if e == nil {
		return cue.Value{}, false
	}
	if e.built {
		return e.v, true
	}
	var v cue.Value
	for i, x := range e.frags {
		fv := l.sc.ctx.BuildExpr(x)
		if i == 0 {
			v = fv
		} else {
			v = v.Unify(fv)
		}
	}
	return v, true
}

// eachEntryMode is eachEntry in entry mode: it builds each entry, checks
// its keys and hands it to fn, then drops it.
func (l *loader) eachEntryMode(kind string, fn func(name string, v cue.Value)) {
	n := l.sc.tree.fields[kind]
	for _, name := range l.order[kind] {
		e := l.entries[kind][name]
		v, _ := l.entryValue(kind, name)
		e.v, e.built = v, true
		path := sels(kind, name)
		l.checkKey(n, name, path)
		l.walk(n.elem, v, path)
		fn(name, v)
		e.v, e.built = cue.Value{}, false
	}
}

// conflicts reports values that two files set differently, in entry
// mode, before anything else is checked (as the whole path does).
func (l *loader) conflicts() bool {
	n := len(l.errs)
	if err := l.data.Validate(); err != nil {
		l.cueErrors(err, nil, l.data)
	}
	for _, kind := range entryMaps {
		for _, name := range l.order[kind] {
			if len(l.entries[kind][name].frags) < 2 {
				continue
			}
			v, _ := l.entryValue(kind, name)
			if err := v.Validate(); err != nil {
				l.cueErrors(err, sels(kind, name), v)
			}
		}
	}
	return len(l.errs) > n
}
