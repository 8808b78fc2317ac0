package schema

import (
	"runtime"
	"sync"
	"sync/atomic"

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

// splitEntries prepares entry mode when every file allows it: it returns
// the settings as syntax (each file's top level with the bottles and
// agents maps emptied) and fills l.entries. It returns nil when the
// manifest must take the whole-value path.
func (l *loader) splitEntries(files []srcFile, asts []*ast.File) []*ast.File {
	if l.path == pathWhole {
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

// Entries are checked on several workers when there are enough of them
// to pay for a worker's own compiled schema (about a millisecond): CUE
// values must not be shared between goroutines, so each worker builds its
// entries in its own cue.Context.
const (
	parallelMin = 64
	maxWorkers  = 8
)

// schemaPool holds compiled schemas for workers, each with its own
// context.
var schemaPool = sync.Pool{New: func() any {
	c, err := compileSchema()
	if err != nil {
		return nil
	}
	return c
}}

// eachEntryMode is eachEntry in entry mode: it builds each entry, checks
// its keys and hands it to fn, then drops it.
func (l *loader) eachEntryMode(kind string, fn func(w *loader, name string, v cue.Value)) {
	names := l.order[kind]
	workers := min(runtime.GOMAXPROCS(0), maxWorkers, len(names)/(parallelMin/2))
	if len(names) < parallelMin || workers < 2 {
		for _, name := range names {
			l.checkEntry(l, kind, name, fn)
		}
		return
	}
	ws := make([]*loader, workers)
	for i := range ws {
		sc, _ := schemaPool.Get().(*compiled)
		if sc == nil {
			// Cannot happen once the schema compiled; stay correct.
			for _, name := range names {
				l.checkEntry(l, kind, name, fn)
			}
			return
		}
		ws[i] = &loader{sc: sc, data: sc.ctx.CompileString("{}"), root: l.root, dirs: l.dirs, first: l.first, entries: l.entries, order: l.order}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(names) {
					return
				}
				l.checkEntry(w, kind, names[i], fn)
			}
		}()
	}
	wg.Wait()
	for _, w := range ws {
		l.errs = append(l.errs, w.errs...)
		l.dropped = append(l.dropped, w.dropped...)
		schemaPool.Put(w.sc)
	}
}

// checkEntry builds one entry in w's context, checks its keys and hands
// it to fn, then drops it.
func (l *loader) checkEntry(w *loader, kind, name string, fn func(w *loader, name string, v cue.Value)) {
	e := l.entries[kind][name]
	v, _ := w.entryValue(kind, name)
	e.v, e.built = v, true
	path := sels(kind, name)
	n := w.sc.tree.fields[kind]
	w.checkKey(n, name, path)
	w.walk(n.elem, v, path)
	fn(w, name, v)
	e.v, e.built = cue.Value{}, false
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
