package schema

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
)

// schemaFS holds the embedded CUE schema, one package in one or more
// files.
//
//go:embed *.cue
var schemaFS embed.FS

// schemaFileSuffix marks positions inside the embedded schema, so errors
// can prefer positions in the user's files.
const schemaFileSuffix = ".cue"

// Source returns the embedded CUE schema text, files concatenated in name
// order (what `bottleplan schema` prints).
func Source() string {
	names, _ := fs.Glob(schemaFS, "*.cue")
	sort.Strings(names)
	var b strings.Builder
	for i, n := range names {
		data, _ := schemaFS.ReadFile(n)
		if i > 0 {
			b.WriteString("\n")
		}
		b.Write(data)
	}
	return b.String()
}

// compiled is the schema compiled once per process.
type compiled struct {
	ctx *cue.Context
	// defs holds the definitions the loader validates against.
	manifest, defaults, bottle, agent cue.Value
	// tree is the field tree of #Manifest used for unknown-field and
	// name checks.
	tree *node
	// files are the names of the schema's files as the compiler saw them.
	files map[string]bool
	// resources are #ResourcesDefaults, which fill what a bottle's
	// resources leave out (read from the schema, not restated).
	resources Resources
	// holdTimeout is #SuperviseDefaults.hold_timeout.
	holdTimeout time.Duration
}

var (
	compileOnce sync.Once
	compiledRes *compiled
	compileErr  error
)

// schemaNames are the embedded files, registered so error positions in
// them can be told apart from the user's.
func getSchema() (*compiled, error) {
	compileOnce.Do(func() {
		compiledRes, compileErr = compileSchema()
	})
	return compiledRes, compileErr
}

func compileSchema() (*compiled, error) {
	ctx := cuecontext.New()
	names, _ := fs.Glob(schemaFS, "*.cue")
	sort.Strings(names)
	c := &compiled{ctx: ctx, files: map[string]bool{}}
	var v cue.Value
	for i, n := range names {
		data, err := schemaFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		name := "schema/" + n
		c.files[name] = true
		fv := ctx.CompileBytes(data, cue.Filename(name))
		if i == 0 {
			v = fv
		} else {
			v = v.Unify(fv)
		}
	}
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("compile embedded schema: %w", err)
	}
	c.manifest = v.LookupPath(cue.ParsePath("#Manifest"))
	c.defaults = v.LookupPath(cue.ParsePath("#Defaults"))
	c.bottle = v.LookupPath(cue.ParsePath("#Bottle"))
	c.agent = v.LookupPath(cue.ParsePath("#Agent"))
	defs := map[string]cue.Value{}
	for _, d := range []string{"#Bottle", "#Agent", "#Repo", "#Route", "#Match", "#PathMatch"} {
		defs[d] = v.LookupPath(cue.ParsePath(d))
	}
	for n, d := range map[string]cue.Value{"#Manifest": c.manifest, "#Defaults": c.defaults, "#Bottle": c.bottle, "#Agent": c.agent} {
		if !d.Exists() {
			return nil, fmt.Errorf("embedded schema lacks %s", n)
		}
	}
	if err := v.LookupPath(cue.ParsePath("#ResourcesDefaults")).Decode(&c.resources); err != nil || c.resources.Pids == 0 {
		return nil, fmt.Errorf("embedded schema: #ResourcesDefaults has no pids: %v", err)
	}
	var sup struct {
		HoldTimeout string `json:"hold_timeout"`
	}
	if err := v.LookupPath(cue.ParsePath("#SuperviseDefaults")).Decode(&sup); err != nil {
		return nil, fmt.Errorf("embedded schema: #SuperviseDefaults: %v", err)
	}
	var msg string
	if c.holdTimeout, msg = parseHoldTimeout(sup.HoldTimeout); msg != "" {
		return nil, fmt.Errorf("embedded schema: #SuperviseDefaults: %s", msg)
	}
	tree, err := buildTree(c.manifest, defs, 0)
	if err != nil {
		return nil, err
	}
	c.tree = tree
	return c, nil
}

// node is one struct, map or list of the schema, as far as the loader
// needs it to check keys: CUE reports unknown fields only once a struct
// has no other error, and gives no hint, so the loader checks keys
// itself.
type node struct {
	// fields of a struct, by name (nil for maps, lists and scalars).
	fields map[string]*node
	// names lists the struct's field names in schema order (for hints).
	names []string
	// required lists the fields that must be present.
	required []string
	// elem is the element of a map (keys are names) or a list.
	elem *node
	// isMap and isList say what elem is the element of.
	isMap, isList bool
	// keyKind names a map's keys in messages ("bottle", "env").
	keyKind string
}

// mapElems names the definition of each map field's values ("" for a
// scalar); listElems the same for lists. The CUE API does not expose
// pattern constraints and list element types of a definition, so they are
// spelled here; TestSchemaTreeMatchesCUE keeps them honest.
var (
	mapElems = map[string]struct{ def, kind string }{
		"bottles": {"#Bottle", "bottle"},
		"agents":  {"#Agent", "agent"},
		"repos":   {"#Repo", "repo"},
		"env":     {"", "env"},
	}
	listElems = map[string]string{
		"routes": "#Route", "matches": "#Match", "paths": "#PathMatch",
		"methods": "", "ports": "", "skills": "", "command": "",
	}
)

func buildTree(v cue.Value, defs map[string]cue.Value, depth int) (*node, error) {
	if depth > 12 {
		return nil, fmt.Errorf("embedded schema nests too deep")
	}
	n := &node{fields: map[string]*node{}}
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return nil, fmt.Errorf("embedded schema: %w", err)
	}
	for it.Next() {
		name := it.Selector().Unquoted()
		fv := it.Value()
		var child *node
		if m, ok := mapElems[name]; ok {
			child = &node{isMap: true, keyKind: m.kind}
			if m.def != "" {
				if child.elem, err = buildTree(defs[m.def], defs, depth+1); err != nil {
					return nil, err
				}
			}
		} else if d, ok := listElems[name]; ok {
			child = &node{isList: true}
			if d != "" {
				if child.elem, err = buildTree(defs[d], defs, depth+1); err != nil {
					return nil, err
				}
			}
		} else if fv.IncompleteKind() == cue.StructKind {
			if child, err = buildTree(fv, defs, depth+1); err != nil {
				return nil, err
			}
		}
		n.fields[name] = child
		n.names = append(n.names, name)
		if it.Selector().ConstraintType() == cue.RequiredConstraint {
			n.required = append(n.required, name)
		}
	}
	return n, nil
}
