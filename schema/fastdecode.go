package schema

import (
	"strconv"

	"go.yaml.in/yaml/v3"
)

// The fast path's decoders read YAML nodes straight into the raw types,
// accepting only what the CUE schema (manifest.cue) accepts and exactly
// as encoding/yaml hands it to CUE: plain keys, scalars by their resolved
// tag (!!str, decimal !!int, !!bool), no explicit tags, anchors, aliases
// or nulls. Anything else, valid or not, fails the decoder and the
// manifest takes the full path, which words every error. So a decoder
// never has to be right about an error, only about what is valid; the
// fast-path tests compare both paths on the validate corpus.

// fdec decodes one entry; ok turns false at the first doubt.
type fdec struct{ ok bool }

func (d *fdec) fail() { d.ok = false }

// plain reports whether n carries no tag, anchor or alias of its own.
func (d *fdec) plain(n *yaml.Node, kind yaml.Kind) bool {
	if n == nil || n.Kind != kind || n.Anchor != "" || n.Style&yaml.TaggedStyle != 0 {
		d.fail()
		return false
	}
	return true
}

// str decodes a string.
func (d *fdec) str(n *yaml.Node) string {
	if !d.plain(n, yaml.ScalarNode) || n.Tag != "!!str" {
		d.fail()
		return ""
	}
	return n.Value
}

// nonEmpty decodes a `string & !=""`.
func (d *fdec) nonEmpty(n *yaml.Node) string {
	s := d.str(n)
	if s == "" {
		d.fail()
	}
	return s
}

// name decodes a #Name.
func (d *fdec) name(n *yaml.Node) string {
	s := d.str(n)
	if !nameRe.MatchString(s) {
		d.fail()
	}
	return s
}

// envName decodes an #EnvName.
func (d *fdec) envName(n *yaml.Node) string {
	s := d.str(n)
	if !envNameRe.MatchString(s) {
		d.fail()
	}
	return s
}

// oneOf decodes a string that must be one of choices.
func (d *fdec) oneOf(n *yaml.Node, choices ...string) string {
	s := d.str(n)
	for _, c := range choices {
		if s == c {
			return s
		}
	}
	d.fail()
	return ""
}

// intIn decodes a decimal int in [lo, hi].
func (d *fdec) intIn(n *yaml.Node, lo, hi int) int {
	if !d.plain(n, yaml.ScalarNode) || n.Tag != "!!int" || !isDecimal(n.Value) {
		d.fail()
		return 0
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < lo || v > hi {
		d.fail()
	}
	return v
}

func isDecimal(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// boolean decodes a bool as encoding/yaml does.
func (d *fdec) boolean(n *yaml.Node) bool {
	if !d.plain(n, yaml.ScalarNode) || n.Tag != "!!bool" {
		d.fail()
		return false
	}
	switch n.Value {
	case "true", "True", "TRUE":
		return true
	case "false", "False", "FALSE":
		return false
	}
	d.fail()
	return false
}

// fields calls fn for each key and value of a mapping; keys must be
// plain strings, each once. fn returns false for a key the schema does
// not know.
func (d *fdec) fields(n *yaml.Node, fn func(key string, v *yaml.Node) bool) {
	if !d.plain(n, yaml.MappingNode) || len(n.Content)%2 != 0 {
		d.fail()
		return
	}
	var seen map[string]bool
	if len(n.Content) > 16 {
		seen = map[string]bool{}
	}
	for i := 0; i < len(n.Content) && d.ok; i += 2 {
		k := d.str(n.Content[i])
		if !d.ok {
			return
		}
		if seen != nil {
			if seen[k] {
				d.fail()
				return
			}
			seen[k] = true
		} else {
			for j := 0; j < i; j += 2 {
				if n.Content[j].Value == k {
					d.fail()
					return
				}
			}
		}
		if !fn(k, n.Content[i+1]) {
			d.fail()
		}
	}
}

// list calls fn for each element of a sequence and returns how many
// there are.
func (d *fdec) list(n *yaml.Node, fn func(i int, v *yaml.Node)) int {
	if !d.plain(n, yaml.SequenceNode) {
		d.fail()
		return 0
	}
	for i, e := range n.Content {
		if !d.ok {
			break
		}
		fn(i, e)
	}
	return len(n.Content)
}

// strList decodes a list of strings (non-empty ones when nonEmpty); a
// list that is present is never nil, as after a JSON round trip.
func (d *fdec) strList(n *yaml.Node, nonEmpty bool) []string {
	out := make([]string, 0, len(n.Content))
	d.list(n, func(_ int, e *yaml.Node) {
		if nonEmpty {
			out = append(out, d.nonEmpty(e))
		} else {
			out = append(out, d.str(e))
		}
	})
	return out
}

// settings decodes the top level without bottles and agents.
func (d *fdec) settings(n *yaml.Node, m *Manifest) {
	m.Version = 0
	m.Project = "bottleplan"
	m.Defaults = Defaults{Backend: "docker", AddressPool: "10.231.0.0/16", SubnetPrefix: 28}
	d.fields(n, func(k string, v *yaml.Node) bool {
		switch k {
		case "version":
			m.Version = d.intIn(v, 1, 1)
		case "project":
			m.Project = d.name(v)
		case "defaults":
			d.fields(v, func(k string, v *yaml.Node) bool {
				switch k {
				case "backend":
					m.Defaults.Backend = d.oneOf(v, "docker", "smolmachines")
				case "address_pool":
					m.Defaults.AddressPool = d.str(v)
				case "subnet_prefix":
					m.Defaults.SubnetPrefix = d.intIn(v, 24, 29)
				default:
					return false
				}
				return true
			})
		default:
			return false
		}
		return true
	})
	if m.Version != 1 {
		d.fail()
	}
}

// gitUser decodes a #GitUser.
func (d *fdec) gitUser(n *yaml.Node) *GitUser {
	u := &GitUser{}
	d.fields(n, func(k string, v *yaml.Node) bool {
		switch k {
		case "name":
			u.Name = d.nonEmpty(v)
		case "email":
			u.Email = d.nonEmpty(v)
		default:
			return false
		}
		return true
	})
	return u
}
