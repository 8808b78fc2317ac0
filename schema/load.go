package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// Options tune Load.
type Options struct {
	// Dir is the working directory: relative paths given to Load are
	// resolved against it and error positions are printed relative to
	// it. Empty means the process's working directory.
	Dir string
	// Home is the directory "~/" means in an ssh key path, used only to
	// warn about key files missing on this host (see lint.go). Empty
	// leaves "~/" key paths unchecked: Load never reads the environment,
	// the caller passes $HOME.
	Home string
	// Strict turns every warning into an error, as `validate --strict`
	// and `plan --strict` do.
	Strict bool
	// path is the first load path tried; tests compare the paths.
	path loadPath
}

// loadPath names the paths Load can take: the fast path (for one YAML
// file, falling back to entry mode), entry mode (falling back to the
// whole value when the files do not allow it), the whole-value path.
type loadPath int

const (
	pathFast loadPath = iota
	pathEntry
	pathWhole
)

// Load reads the manifest made of paths (files, or directories meaning
// every .cue, .yaml, .yml and .json file directly inside them), unifies
// the files, validates every rule of the format, applies defaults,
// resolves `extends`, reads prompt files and hashes Dockerfiles.
//
// The manifest root is the deepest directory holding every path (see
// Root), whatever their order. The Dockerfile and PromptFile fields of the
// result are slash-separated and relative to it; every other relative
// path in a manifest is relative to the file that writes it.
//
// A manifest that is not valid yields an Errors value holding every
// problem found, sorted by position. Load never reads the environment.
func Load(paths ...string) (*Manifest, error) {
	return LoadWith(Options{}, paths...)
}

// LoadWith is Load with options.
func LoadWith(opts Options, paths ...string) (*Manifest, error) {
	sc, err := getSchema()
	if err != nil {
		return nil, err
	}
	wd := opts.Dir
	if wd == "" {
		if wd, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("working directory: %w", err)
		}
	} else if wd, err = filepath.Abs(wd); err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	}
	if len(paths) == 0 {
		return nil, errors.New("no manifest given")
	}
	files, errs := expand(wd, paths)
	if len(errs) > 0 {
		return nil, sortErrors(errs)
	}
	if errs := readFiles(files); len(errs) > 0 {
		return nil, sortErrors(errs)
	}
	if files, errs = skipPlanFiles(files); len(errs) > 0 {
		return nil, sortErrors(errs)
	}
	if len(files) == 1 && (files[0].ext == ".yaml" || files[0].ext == ".yml") && opts.path == pathFast && precheck(files[0]) == nil {
		f := files[0]
		l := &loader{sc: sc, root: Root(wd, paths), dirs: map[string]string{f.name: f.dir}, first: f.name, fast: true, home: opts.Home}
		if m, ok := l.fastLoad(f.data); ok {
			return m, nil
		}
	}
	var asts []*ast.File
	for _, f := range files {
		if e := precheck(f); e != nil {
			errs = append(errs, *e)
			continue
		}
		af, perrs := parse(f)
		errs = append(errs, perrs...)
		if af != nil {
			asts = append(asts, af)
		}
	}
	if len(errs) > 0 {
		return nil, sortErrors(errs)
	}
	root := Root(wd, paths)
	l := &loader{sc: sc, root: root, dirs: map[string]string{}, first: files[0].name, home: opts.Home, strict: opts.Strict, path: opts.path}
	for _, f := range files {
		l.dirs[f.name] = f.dir
	}
	tops := l.splitEntries(files, asts)
	if tops != nil {
		asts = tops
	}
	var data cue.Value
	for i, af := range asts {
		v := sc.ctx.BuildFile(af)
		if i == 0 {
			data = v
		} else {
			data = data.Unify(v)
		}
	}
	l.data = data
	if k := data.IncompleteKind(); k != cue.BottomKind && k&cue.StructKind == 0 {
		return nil, Errors{posError(data.Pos(), "", "the top level must be a mapping")}
	}
	if tops != nil {
		if len(files) > 1 && l.conflicts() {
			return nil, l.failure()
		}
	} else if len(files) > 1 || hasCUE(files) {
		// Conflicts between files, and errors in CUE files, show in the
		// data alone; report them before they cascade into schema errors.
		if err := data.Validate(); err != nil {
			l.cueErrors(err, nil, data)
			return nil, l.failure()
		}
	}
	m := l.load()
	if l.strict {
		for _, w := range l.warns {
			w.Warning = false
			l.errs = append(l.errs, w)
		}
		l.warns = nil
	}
	if len(l.errs) > 0 || len(l.dropped) > 0 {
		return nil, l.failure()
	}
	if len(l.warns) > 0 {
		m.Warnings = sortErrors(l.warns)
	}
	return m, nil
}

// failure is the error of a Load that found problems: every error
// reported and every warning, sorted. It is never empty: when every evaluator error was
// dropped as covered by another yet none was reported, the dropped ones
// are; failing that, one error names the manifest's first file.
func (l *loader) failure() Errors {
	errs := l.errs
	if len(errs) == 0 {
		errs = l.dropped
	}
	if len(errs) == 0 {
		errs = Errors{{File: l.first, Message: "the manifest is not valid, but no check said why: please report this as a bottleplan bug, with the manifest"}}
	}
	return sortErrors(append(slices.Clip(errs), l.warns...))
}

func hasCUE(files []srcFile) bool {
	for _, f := range files {
		if f.ext == ".cue" {
			return true
		}
	}
	return false
}

// loader carries the state of one Load.
type loader struct {
	sc   *compiled
	data cue.Value
	root string
	// dirs maps a file's display name to its absolute directory.
	dirs  map[string]string
	first string
	errs  Errors
	// warns holds the lint warnings (lint.go).
	warns Errors
	// home and strict are Options.Home and Options.Strict.
	home   string
	strict bool
	// path is Options.path.
	path loadPath
	// dropped holds the evaluator errors that were not reported because
	// another error covers them (see cueErrors and failure).
	dropped Errors
	// links is found on the first missing extends parent (see
	// missingParent).
	links *missingLinks
	// errPaths holds the paths of l.errs[:indexed] (see reportedAt).
	errPaths map[string]bool
	indexed  int
	// entries and order hold the bottles and agents in entry mode (see
	// entries.go); nil on the whole-value path.
	entries map[string]map[string]*entry
	order   map[string][]string
	// fast is set on the fast path (fast.go): there is no CUE data, and
	// any error only means the full path must run, so positions are not
	// looked up.
	fast bool
}

func (l *loader) errorf(pos token.Pos, path []cue.Selector, format string, args ...any) {
	l.errs = append(l.errs, posError(pos, renderPath(path), fmt.Sprintf(format, args...)))
}

// lookup returns the data value at path.
func (l *loader) lookup(path []cue.Selector) cue.Value {
	if l.entries != nil && len(path) >= 2 {
		if v, ok := l.entryValue(selName(path[0]), selName(path[1])); ok {
			return v.LookupPath(cue.MakePath(path[2:]...))
		}
	}
	return l.data.LookupPath(cue.MakePath(path...))
}

// valuePos is the position of the value at path.
func (l *loader) valuePos(path []cue.Selector) token.Pos {
	if l.fast {
		return l.filePos()
	}
	v := l.lookup(path)
	switch src := v.Source().(type) {
	case *ast.Field:
		if p := src.Value.Pos(); p.IsValid() {
			return p
		}
	case ast.Expr:
		if p := src.Pos(); p.IsValid() {
			return p
		}
	}
	return v.Pos()
}

// keyPos is the position of the label of the field at path.
func (l *loader) keyPos(path []cue.Selector) token.Pos {
	if l.fast {
		return l.filePos()
	}
	if l.entries != nil && len(path) == 2 {
		if e := l.entries[selName(path[0])][selName(path[1])]; e != nil {
			return e.label
		}
	}
	v := l.lookup(path)
	if !v.Exists() && len(path) > 0 && path[len(path)-1].LabelType() == cue.StringLabel {
		// A field written as required (name!: type) is found only
		// through a required selector.
		v = l.lookup(with(path[:len(path)-1], path[len(path)-1].Required()))
	}
	if f, ok := v.Source().(*ast.Field); ok {
		return f.Label.Pos()
	}
	return v.Pos()
}

// filePos is the start of the first file, for problems with the whole
// manifest.
func (l *loader) filePos() token.Pos {
	f := token.NewFile(l.first, 0, 1)
	return f.Pos(0, token.NoRelPos)
}

// load validates the unified data and builds the Manifest.
func (l *loader) load() *Manifest {
	if err := l.data.Err(); err != nil && !l.data.Exists() {
		l.cueErrors(err, nil, l.data)
		return nil
	}
	l.walk(l.sc.tree, l.data, nil)

	m := &Manifest{Bottles: map[string]*Bottle{}, Agents: map[string]*Agent{}}
	top := map[string]cue.Value{}
	it, err := l.sc.manifest.Fields(cue.Optional(true))
	if err != nil {
		l.errs = append(l.errs, Error{Message: err.Error()})
		return nil
	}
	for it.Next() {
		top[it.Selector().Unquoted()] = it.Value()
	}
	dsts := map[string]any{"version": &m.Version, "project": &m.Project, "defaults": &m.Defaults}
	for _, name := range []string{"version", "project", "defaults"} {
		s := top[name]
		d := l.lookup(sels(name))
		if d.Exists() {
			s = s.Unify(d)
		} else if name == "version" {
			continue // reported by the key walk
		}
		l.validate(s, nil, l.data, dsts[name])
	}
	l.checkDefaults(&m.Defaults)

	// The entry callbacks may run on several workers (see eachEntry):
	// they check through w and guard what they share with mu.
	var mu sync.Mutex
	bottles := map[string]*rawBottle{}
	broken := map[string]*rawBottle{}
	names := map[string]bool{}
	l.eachEntry("bottles", func(w *loader, name string, v cue.Value) {
		rb := &rawBottle{name: name}
		u := w.sc.bottle.Unify(v)
		ok, bad := w.validate(u, sels("bottles", name), v, rb)
		if !ok {
			// Check what can be checked of a bottle with errors, but
			// keep it out of extends resolution.
			w.decodePartial(u, v, bad, rb)
		}
		rb.name = name
		valid := w.checkBottle(rb) && ok
		mu.Lock()
		defer mu.Unlock()
		names[name] = true
		if valid {
			bottles[name] = rb
		} else {
			broken[name] = rb
		}
	})
	l.checkSubnets(bottles)
	l.checkBroken(broken, bottles, names, m.Defaults)
	resolved := l.resolve(bottles, broken, names, m.Defaults)
	l.lint(bottles, broken, resolved)
	for name, b := range resolved {
		m.Bottles[name] = b
	}
	l.eachEntry("agents", func(w *loader, name string, v cue.Value) {
		var ra rawAgent
		u := w.sc.agent.Unify(v)
		ok, bad := w.validate(u, sels("agents", name), v, &ra)
		if !ok {
			w.decodePartial(u, v, bad, &ra)
		}
		if a := w.checkAgent(name, &ra, names); a != nil && ok {
			mu.Lock()
			m.Agents[name] = a
			mu.Unlock()
		}
	})
	l.checkSharedPins(m)
	l.checkPoolRoom(m)
	return m
}

// eachEntry calls fn for every field of the top-level map named field,
// with the loader to check it through.
func (l *loader) eachEntry(field string, fn func(w *loader, name string, v cue.Value)) {
	if l.entries != nil {
		l.eachEntryMode(field, fn)
		return
	}
	v := l.lookup(sels(field))
	if !v.Exists() || v.IncompleteKind() != cue.StructKind {
		if v.Exists() {
			l.errorf(l.valuePos(sels(field)), sels(field), "expected a mapping of names, got %s", gotWords(short(v), v))
		}
		return
	}
	it, err := v.Fields()
	if err != nil {
		l.cueErrors(err, sels(field), v)
		return
	}
	for it.Next() {
		fn(l, it.Selector().Unquoted(), it.Value())
	}
}

// validate checks v (a schema definition unified with the data d found
// at parent) and decodes it into dst when it is valid. It reports whether
// it was, and the names of v's fields that hold errors ("" for v itself).
func (l *loader) validate(v cue.Value, parent []cue.Selector, d cue.Value, dst any) (bool, map[string]bool) {
	if err := v.Validate(cue.Concrete(true), cue.All()); err != nil {
		return false, l.cueErrors(err, parent, d)
	}
	if dst == nil {
		return true, nil
	}
	b, err := v.MarshalJSON()
	if err != nil {
		return false, l.cueErrors(err, parent, d)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		l.errorf(l.valuePos(parent), parent, "cannot decode: %v", err)
		return false, map[string]bool{"": true}
	}
	return true, nil
}

// decodePartial decodes the fields of v that hold no error into dst, so
// the Go rules can still check them. A field whose only errors are
// required members it leaves out is decoded as written in d (the data
// of v), so a repo without key still has its URL checked. So is a field
// without reported errors that still does not encode.
func (l *loader) decodePartial(v, d cue.Value, bad map[string]bool, dst any) {
	if bad[""] {
		return
	}
	it, err := v.Fields()
	if err != nil {
		return
	}
	obj := map[string]json.RawMessage{}
	for it.Next() {
		name := it.Selector().Unquoted()
		fv := it.Value()
		if bad[name] {
			// A map or struct with errors only in some members still
			// gives the others, so their rules are checked now too.
			if bad[name+"\x00"] {
				continue
			}
			if b, ok := partialMembers(fv, name, bad); ok {
				obj[name] = b
			}
			continue
		}
		b, err := fv.MarshalJSON()
		if bad[missingMark+name] || err != nil {
			// Only required members are missing (the evaluator does
			// not always say so when the entry has other errors).
			b, err = d.LookupPath(cue.MakePath(it.Selector())).MarshalJSON()
		}
		if err == nil {
			obj[name] = b
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return
	}
	// Fields that still do not fit dst stay unset.
	_ = json.Unmarshal(b, dst)
}

// partialMembers encodes the members of the struct v (the field named
// field) that hold no error, as marked by markBad.
func partialMembers(v cue.Value, field string, bad map[string]bool) (json.RawMessage, bool) {
	it, err := v.Fields()
	if err != nil {
		return nil, false
	}
	members := map[string]json.RawMessage{}
	for it.Next() {
		n := it.Selector().Unquoted()
		if bad[field+"\x00"+n] {
			continue
		}
		b, err := it.Value().MarshalJSON()
		if err != nil {
			return nil, false
		}
		members[n] = b
	}
	b, err := json.Marshal(members)
	return b, err == nil
}

// sels makes a path of field names.
func sels(names ...string) []cue.Selector {
	out := make([]cue.Selector, len(names))
	for i, n := range names {
		out[i] = cue.Str(n)
	}
	return out
}

// with returns path extended by more selectors, never sharing storage.
func with(path []cue.Selector, more ...any) []cue.Selector {
	out := make([]cue.Selector, 0, len(path)+len(more))
	out = append(out, path...)
	for _, m := range more {
		switch m := m.(type) {
		case string:
			out = append(out, cue.Str(m))
		case int:
			out = append(out, cue.Index(m))
		case cue.Selector:
			out = append(out, m)
		}
	}
	return out
}

// selName is the name of a field selector, or the printed form of any
// other selector (list indices).
func selName(s cue.Selector) string {
	if s.LabelType() == cue.StringLabel {
		return s.Unquoted()
	}
	return s.String()
}

// renderPath prints a path as "bottles.dev.egress.routes[0].host".
func renderPath(path []cue.Selector) string {
	var b strings.Builder
	for _, s := range path {
		if s.LabelType() == cue.IndexLabel {
			b.WriteString("[" + strconv.Itoa(s.Index()) + "]")
			continue
		}
		name := s.Unquoted()
		if !isIdent(name) {
			name = strconv.Quote(name)
		}
		if b.Len() > 0 {
			b.WriteString(".")
		}
		b.WriteString(name)
	}
	return b.String()
}
