package schema

import (
	"fmt"
	"regexp"

	"cuelang.org/go/cue"
)

var (
	nameRe    = regexp.MustCompile(namePattern)
	envNameRe = regexp.MustCompile(envNamePattern)
)

// walk checks every key of the data value v against the schema node n:
// unknown fields (with a "did you mean") and map keys that are not valid
// names. Values are left to CUE.
func (l *loader) walk(n *node, v cue.Value, path []cue.Selector) {
	if n == nil {
		return
	}
	switch {
	case n.isList:
		if v.IncompleteKind() != cue.ListKind {
			return
		}
		it, err := v.List()
		if err != nil {
			return
		}
		for i := 0; it.Next(); i++ {
			l.walk(n.elem, it.Value(), with(path, i))
		}
	case n.isMap:
		if v.IncompleteKind() != cue.StructKind {
			return
		}
		it, err := v.Fields()
		if err != nil {
			return
		}
		for it.Next() {
			name := it.Selector().Unquoted()
			p := with(path, name)
			l.checkKey(n, name, p)
			l.walk(n.elem, it.Value(), p)
		}
	default:
		if v.IncompleteKind() != cue.StructKind {
			return
		}
		for _, name := range n.required {
			if !v.LookupPath(cue.MakePath(cue.Str(name))).Exists() {
				pos := l.filePos()
				if len(path) > 0 {
					pos = l.keyPos(path)
				}
				if len(path) == 0 && name == "version" {
					l.errorf(pos, with(path, name), "missing required field \"version\": add `version: 1` (the manifest format version) at the top")
					continue
				}
				l.errorf(pos, with(path, name), "missing required field %q", name)
			}
		}
		it, err := v.Fields()
		if err != nil {
			return
		}
		for it.Next() {
			name := it.Selector().Unquoted()
			p := with(path, name)
			child, ok := n.fields[name]
			if !ok {
				l.errorf(l.keyPos(p), p, "%s", unknownField(name, n.names, path))
				continue
			}
			l.walk(child, it.Value(), p)
		}
	}
}

// checkKey reports a map key (at path) that is not a valid name.
func (l *loader) checkKey(n *node, name string, path []cue.Selector) {
	re, rule := nameRe, nameRule
	if n.keyKind == "env" {
		re, rule = envNameRe, envNameRule
	}
	if !re.MatchString(name) {
		l.errorf(l.keyPos(path), path, "invalid %s name %q: %s", n.keyKind, name, rule)
	}
}

// unknownField words an unknown key, with the closest known one.
func unknownField(name string, known []string, parent []cue.Selector) string {
	msg := fmt.Sprintf("unknown field %q", name)
	if s := suggest(name, known); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", s)
	}
	if len(parent) == 3 && selName(parent[0]) == "agents" && selName(parent[2]) == "git_gate" {
		return msg + " (an agent's git_gate may only set user; repos belong to its bottle)"
	}
	return msg
}
