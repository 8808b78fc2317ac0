package schema

import (
	"bytes"
	"encoding/json"
	stderrors "errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
	cuejson "cuelang.org/go/encoding/json"
	"cuelang.org/go/encoding/yaml"
)

// Limits that keep hostile or broken input from exhausting the machine.
// A manifest of 10000 agents is about 2 MiB.
const (
	// MaxManifestBytes bounds all manifest files of one Load together.
	MaxManifestBytes = 32 << 20
	// maxNesting bounds bracket nesting; the schema needs about 8 levels.
	maxNesting = 100
)

// srcFile is one manifest file read from disk.
type srcFile struct {
	// name is the path relative to the working directory, used in
	// positions and messages.
	name string
	// dir is the file's absolute directory, the base of relative paths
	// written in it.
	dir  string
	data []byte
	ext  string
	// listed is true when the file came from a directory, not by name.
	listed bool
}

// manifestExts are the extensions Load reads.
var manifestExts = map[string]bool{".cue": true, ".yaml": true, ".yml": true, ".json": true}

// expand turns the paths given to Load into files: a file as is (its
// extension must be known), a directory as every manifest file directly
// inside it, in name order.
func expand(wd string, paths []string) ([]srcFile, Errors) {
	var files []srcFile
	var errs Errors
	seen := map[string]bool{}
	add := func(abs string) {
		if seen[abs] {
			return
		}
		seen[abs] = true
		files = append(files, srcFile{name: displayName(wd, abs), dir: filepath.Dir(abs), ext: strings.ToLower(filepath.Ext(abs))})
	}
	for _, p := range paths {
		abs := absPath(wd, p)
		fi, err := os.Stat(abs)
		if err != nil {
			errs = append(errs, Error{File: displayName(wd, abs), Message: statMessage(err)})
			continue
		}
		if !fi.IsDir() {
			if !manifestExts[strings.ToLower(filepath.Ext(abs))] {
				errs = append(errs, Error{File: displayName(wd, abs), Message: fmt.Sprintf("unknown file type %q: a manifest is .cue, .yaml, .yml or .json", filepath.Ext(abs))})
				continue
			}
			add(abs)
			continue
		}
		entries, err := os.ReadDir(abs)
		if err != nil {
			errs = append(errs, Error{File: displayName(wd, abs), Message: statMessage(err)})
			continue
		}
		var names []string
		for _, e := range entries {
			if !e.IsDir() && manifestExts[strings.ToLower(filepath.Ext(e.Name()))] && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, e.Name())
			}
		}
		if len(names) == 0 {
			errs = append(errs, Error{File: displayName(wd, abs), Message: "directory holds no manifest (.cue, .yaml, .yml or .json files)"})
			continue
		}
		sort.Strings(names)
		for _, n := range names {
			add(filepath.Join(abs, n))
			files[len(files)-1].listed = true
		}
	}
	return files, errs
}

// skipPlanFiles leaves out the bottleplan plan files (JSON with
// format_version and plan_digest at the top) that a directory holds:
// `bottleplan plan -o plan.json` beside the manifest is the natural
// workflow, and a plan is not part of the manifest. A plan file named by
// itself is an error that says so, and so is a directory left with no
// manifest.
func skipPlanFiles(files []srcFile) ([]srcFile, Errors) {
	var out []srcFile
	var errs Errors
	dirs := map[string]bool{} // directories that gave files, and whether one was a manifest
	for _, f := range files {
		if f.listed {
			dir := path.Dir(f.name)
			dirs[dir] = dirs[dir] || !isPlanFile(f)
		}
		switch {
		case !isPlanFile(f):
			out = append(out, f)
		case !f.listed:
			errs = append(errs, Error{File: f.name, Message: "this is a bottleplan plan file, not a manifest: give the manifest with -f, and the plan to show, apply or diff"})
		}
	}
	for _, dir := range slices.Sorted(maps.Keys(dirs)) {
		if !dirs[dir] {
			errs = append(errs, Error{File: dir, Message: "directory holds no manifest (.cue, .yaml, .yml or .json files), only plan files"})
		}
	}
	return out, errs
}

// isPlanFile reports whether f is a JSON plan file written by `bottleplan
// plan`.
func isPlanFile(f srcFile) bool {
	if f.ext != ".json" || !bytes.Contains(f.data, []byte(`"plan_digest"`)) {
		return false
	}
	var top struct {
		FormatVersion *json.RawMessage `json:"format_version"`
		PlanDigest    *json.RawMessage `json:"plan_digest"`
	}
	return json.Unmarshal(f.data, &top) == nil && top.FormatVersion != nil && top.PlanDigest != nil
}

func statMessage(err error) string {
	if os.IsNotExist(err) {
		return "no such file or directory"
	}
	if os.IsPermission(err) {
		return "permission denied"
	}
	return err.Error()
}

// Root is the manifest root of paths, relative ones resolved against wd:
// the deepest directory that holds every path given (a directory path
// counts as itself, a file as its directory). Plans carry Dockerfile and
// prompt paths relative to it, and apply resolves them against it. It
// does not depend on the order of paths, so listing the same files in
// another order gives the same relative paths (and so the same plan
// bytes).
func Root(wd string, paths []string) string {
	var root string
	for i, p := range paths {
		dir := absPath(wd, p)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			dir = filepath.Dir(dir)
		}
		if i == 0 {
			root = dir
			continue
		}
		for !within(root, dir) {
			parent := filepath.Dir(root)
			if parent == root {
				break
			}
			root = parent
		}
	}
	return root
}

// within reports whether dir is root or below it.
func within(root, dir string) bool {
	rel, err := filepath.Rel(root, dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// absPath resolves p against the working directory wd.
func absPath(wd, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(wd, p)
}

// displayName is abs relative to wd when that is shorter to read (it does
// not climb out of wd), else abs itself; always slash-separated.
func displayName(wd, abs string) string {
	rel, err := filepath.Rel(wd, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(rel)
}

// readFiles reads every file and checks the total size.
func readFiles(files []srcFile) Errors {
	var errs Errors
	total := 0
	for i := range files {
		f := &files[i]
		fh, err := os.Open(filepath.Join(f.dir, filepath.Base(f.name)))
		if err != nil {
			errs = append(errs, Error{File: f.name, Message: statMessage(err)})
			continue
		}
		// Read one byte past the limit to tell "too big" without reading
		// a huge file whole.
		data, err := io.ReadAll(io.LimitReader(fh, int64(MaxManifestBytes-total)+1))
		fh.Close()
		if err != nil {
			errs = append(errs, Error{File: f.name, Message: err.Error()})
			continue
		}
		total += len(data)
		if total > MaxManifestBytes {
			errs = append(errs, Error{File: f.name, Message: fmt.Sprintf("manifest too large: the files of one manifest may hold at most %d MiB together", MaxManifestBytes>>20)})
			return errs
		}
		if f.ext == ".yaml" || f.ext == ".yml" {
			data = normalizeBreaks(data)
		}
		f.data = data
	}
	return errs
}

// normalizeBreaks turns YAML's other line breaks (CR LF and a lone CR)
// into LF. YAML counts all three as line breaks, but CUE's YAML decoder
// numbers lines by LF alone and panics on a lone CR (FuzzLoad found
// "\r\r0\r"); after this the decoder, lineCol and the user agree on
// line numbers.
func normalizeBreaks(data []byte) []byte {
	if bytes.IndexByte(data, '\r') < 0 {
		return data
	}
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(data, []byte("\r"), []byte("\n"))
}

// precheck rejects what no parser should see: binary data, empty files and
// deeply nested brackets.
func precheck(f srcFile) *Error {
	data := f.data
	if len(bytes.TrimSpace(data)) == 0 {
		return &Error{File: f.name, Message: "file is empty: a manifest needs version, bottles and agents"}
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		line, col := lineCol(data, i)
		return &Error{File: f.name, Line: line, Column: col, Message: "not a text file (NUL byte): a manifest is UTF-8 text"}
	}
	if !utf8.Valid(data) {
		i := 0
		for i < len(data) {
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			i += size
		}
		line, col := lineCol(data, i)
		return &Error{File: f.name, Line: line, Column: col, Message: "not UTF-8 text: a manifest is UTF-8 text"}
	}
	depth, inStr, esc := 0, false, false
	trackStrings := f.ext != ".yaml" && f.ext != ".yml"
	for i, c := range data {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"' || c == '\n':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = trackStrings
		case '[', '{', '(':
			depth++
			if depth > maxNesting {
				line, col := lineCol(data, i)
				return &Error{File: f.name, Line: line, Column: col, Message: fmt.Sprintf("nested more than %d levels deep", maxNesting)}
			}
		case ']', '}', ')':
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}

// lineCol converts a byte offset to a 1-based line and column (bytes).
func lineCol(data []byte, off int) (int, int) {
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

// jsonSyntax checks f is JSON with the standard library before CUE sees
// it: CUE's JSON extractor panics on some invalid input (FuzzLoad found
// "[A=0]"). The error names the offending byte.
func jsonSyntax(f srcFile) *Error {
	if json.Valid(f.data) {
		return nil
	}
	var v any
	err := json.Unmarshal(f.data, &v)
	e := &Error{File: f.name, Message: "invalid JSON"}
	var se *json.SyntaxError
	if stderrors.As(err, &se) {
		off := max(int(se.Offset)-1, 0)
		e.Line, e.Column = lineCol(f.data, min(off, len(f.data)))
		e.Message = "invalid JSON: " + se.Error()
	}
	return e
}

// parse turns a file into a CUE syntax tree, rejecting what CUE would
// accept silently but a user would not mean: several YAML documents,
// duplicate keys in YAML or JSON, and a top level that is not a mapping.
//
// The parsers are CUE's; FuzzLoad has found two inputs that made them
// panic (each now caught before it reaches them). Any other such input
// becomes an error naming the file rather than a crash.
func parse(f srcFile) (_ *ast.File, errs Errors) {
	defer func() {
		if r := recover(); r != nil {
			errs = Errors{{File: f.name, Message: fmt.Sprintf("cannot parse this file (the CUE parser failed: %v); check its syntax", r)}}
		}
	}()
	var file *ast.File
	switch f.ext {
	case ".cue":
		pf, err := parser.ParseFile(f.name, f.data, parser.ParseComments)
		if err != nil {
			return nil, fromSyntax(f, err)
		}
		for imp := range pf.ImportSpecs() {
			return nil, Errors{posError(imp.Pos(), "", "imports are not supported in a manifest")}
		}
		file = pf
	case ".json":
		if e := jsonSyntax(f); e != nil {
			return nil, Errors{*e}
		}
		expr, err := cuejson.Extract(f.name, f.data)
		if err != nil {
			return nil, fromSyntax(f, err)
		}
		st, ok := expr.(*ast.StructLit)
		if !ok {
			return nil, Errors{posError(expr.Pos(), "", "the top level must be an object")}
		}
		file = &ast.File{Filename: f.name, Decls: st.Elts}
	default: // .yaml, .yml
		d := yaml.NewDecoder(f.name, bytes.NewReader(f.data))
		expr, err := d.Extract()
		if err != nil {
			return nil, fromSyntax(f, err)
		}
		if next, err := d.Extract(); err != io.EOF {
			if err != nil {
				return nil, fromSyntax(f, err)
			}
			return nil, Errors{posError(next.Pos(), "", "several YAML documents in one file: put each manifest in its own file")}
		}
		switch x := expr.(type) {
		case *ast.StructLit:
			file = &ast.File{Filename: f.name, Decls: x.Elts}
		case *ast.BasicLit, *ast.BinaryExpr:
			// `---` alone or comments only decode to null.
			return nil, Errors{{File: f.name, Message: "file is empty: a manifest needs version, bottles and agents"}}
		default:
			return nil, Errors{posError(expr.Pos(), "", "the top level must be a mapping")}
		}
	}
	if f.ext != ".cue" {
		if errs := duplicateKeys(file.Decls, ""); len(errs) > 0 {
			return nil, errs
		}
	}
	if len(file.Decls) == 0 {
		return nil, Errors{{File: f.name, Message: "file is empty: a manifest needs version, bottles and agents"}}
	}
	return file, nil
}

// fromSyntax converts a parser error into positioned errors.
func fromSyntax(f srcFile, err error) Errors {
	text := err.Error()
	var out Errors
	var cerr errors.Error
	if !stderrors.As(err, &cerr) {
		err = nil // a plain error: its text carries the line, see below
	}
	for _, e := range errors.Errors(err) {
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if w := stderrors.Unwrap(e); w != nil {
			msg += ": " + w.Error()
		}
		var pos token.Pos
		if ps := errors.Positions(e); len(ps) > 0 {
			pos = ps[0]
		}
		out = append(out, posError(pos, "", syntaxMessage(f, msg)))
	}
	if len(out) == 0 {
		e := Error{File: f.name, Message: syntaxMessage(f, text)}
		// YAML syntax errors are plain text: "name:line: msg".
		if rest, ok := strings.CutPrefix(e.Message, f.name+":"); ok {
			var line int
			if n, _ := fmt.Sscanf(rest, "%d:", &line); n == 1 {
				e.Line = line
				e.Message = strings.TrimSpace(rest[strings.Index(rest, ":")+1:])
			}
		}
		out = append(out, e)
	}
	for i := range out {
		if out[i].File == "" {
			out[i].File = f.name
		}
	}
	return out
}

func syntaxMessage(f srcFile, msg string) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "invalid JSON for file "+strconv.Quote(f.name)); ok {
		msg = "invalid JSON" + rest
	}
	return msg
}

// duplicateKeys reports a key given twice in one YAML or JSON mapping;
// CUE would merge them silently.
func duplicateKeys(decls []ast.Decl, path string) Errors {
	var errs Errors
	seen := map[string]token.Pos{}
	for _, d := range decls {
		fd, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		name, _, err := ast.LabelName(fd.Label)
		if err != nil {
			continue
		}
		p := joinPath(path, name)
		if first, dup := seen[name]; dup {
			errs = append(errs, posError(fd.Label.Pos(), p, fmt.Sprintf("duplicate key %q (first at line %d)", name, first.Line())))
		} else {
			seen[name] = fd.Label.Pos()
		}
		errs = append(errs, duplicateKeysIn(fd.Value, p)...)
	}
	return errs
}

func duplicateKeysIn(x ast.Expr, path string) Errors {
	switch x := x.(type) {
	case *ast.StructLit:
		return duplicateKeys(x.Elts, path)
	case *ast.ListLit:
		var errs Errors
		for i, e := range x.Elts {
			errs = append(errs, duplicateKeysIn(e, fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	}
	return nil
}

// joinPath appends a field name to a dotted path, quoting names that are
// not identifiers.
func joinPath(path, name string) string {
	if !isIdent(name) {
		name = fmt.Sprintf("%q", name)
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || c == '-' && i > 0 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0 {
			continue
		}
		return false
	}
	return true
}

// posError makes an Error at a CUE position.
func posError(pos token.Pos, path, msg string) Error {
	e := Error{Path: path, Message: msg}
	if pos.IsValid() {
		e.File = pos.Filename()
		e.Line = pos.Line()
		e.Column = pos.Column()
	}
	return e
}
