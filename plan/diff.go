package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ChangeKind says what happened to an instance or a field.
type ChangeKind int

// Change kinds.
const (
	InstanceAdded ChangeKind = iota + 1
	InstanceRemoved
	FieldAdded
	FieldRemoved
	FieldChanged
)

var kindNames = map[ChangeKind]string{
	InstanceAdded:   "instance-added",
	InstanceRemoved: "instance-removed",
	FieldAdded:      "added",
	FieldRemoved:    "removed",
	FieldChanged:    "changed",
}

// String is the kind's name as written in JSON.
func (k ChangeKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// MarshalText writes the kind's name.
func (k ChangeKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Symbol is the one-character mark a review shows: + added, - removed,
// ~ changed.
func (k ChangeKind) Symbol() string {
	switch k {
	case InstanceAdded, FieldAdded:
		return "+"
	case InstanceRemoved, FieldRemoved:
		return "-"
	}
	return "~"
}

// Change is one semantic difference between two plans.
type Change struct {
	// Instance is the slug; "" for a plan-level field (project,
	// address_pool).
	Instance string `json:"instance"`
	// Path is the field's JSON path inside the instance (or plan), with
	// list elements named by identity where they have one:
	// "bundle.proxy.routes[api.github.com].ports", "guest_env[FOO]",
	// "bundle.git_gate.repos[app].access". "" for a whole instance.
	Path string     `json:"path"`
	Kind ChangeKind `json:"kind"`
	// Old and New are the values as compact canonical JSON ("" when
	// absent). For a whole instance, a one-line summary.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// Security marks changes to what the sandbox lets through (see
	// IsSecurityRelevant).
	Security bool `json:"security"`
}

// Diff lists what changed from old to new: whole instances added or
// removed (matched by slug), then per-field changes inside instances
// present in both, and the plan-level project and address_pool. The
// digests are left out: they change whenever anything else does.
//
// Lists with an identity are compared element by element under that
// identity: proxy routes by host, git repos by name, and the env maps by
// variable name; the order of routes is not reported. Other lists
// (ports, command, skills, matches, bottle_chain, secrets_from_host) are
// values compared whole.
//
// The result is deterministic: security-relevant changes first, then the
// rest; within each group plan-level fields, then instances by slug,
// then fields in sorted path order.
func Diff(old, new *Plan) []Change {
	var out []Change
	for _, f := range []struct{ path, a, b string }{
		{"project", old.Project, new.Project},
		{"address_pool", old.AddressPool, new.AddressPool},
	} {
		if f.a != f.b {
			out = append(out, Change{Path: f.path, Kind: FieldChanged, Old: compact(f.a), New: compact(f.b)})
		}
	}

	olds, news := bySlug(old), bySlug(new)
	slugs := slices.Sorted(maps.Keys(olds))
	for s := range news {
		if _, ok := olds[s]; !ok {
			slugs = append(slugs, s)
		}
	}
	slices.Sort(slugs)
	for _, s := range slugs {
		oi, inOld := olds[s]
		ni, inNew := news[s]
		switch {
		case !inOld:
			out = append(out, Change{Instance: s, Kind: InstanceAdded, New: instanceSummary(ni)})
		case !inNew:
			out = append(out, Change{Instance: s, Kind: InstanceRemoved, Old: instanceSummary(oi)})
		default:
			diffValue(&out, s, "", instanceTree(oi), instanceTree(ni))
		}
	}
	for i := range out {
		out[i].Security = IsSecurityRelevant(out[i])
	}
	slices.SortStableFunc(out, func(a, b Change) int {
		switch {
		case a.Security == b.Security:
			return 0
		case a.Security:
			return -1
		}
		return 1
	})
	return out
}

// IsSecurityRelevant reports whether c changes what the sandbox lets
// through. These are reviewed first:
//
//   - instances added or removed;
//   - egress: anything under bundle.proxy.routes (hosts, ports, auth,
//     matches, dlp, intercept);
//   - git: the gate appearing or going, and its repos (upstream, access,
//     key, host key), but not a repo's gate_url, which follows the
//     bundle's address;
//   - env: every change to guest_env, env_from_host, env_prompted and
//     bundle.secrets_from_host, names and values alike: a changed literal
//     (NODE_OPTIONS, a proxy or CA variable) changes what the agent runs
//     with, and a variable moving from a literal to a host secret changes
//     what enters the sandbox;
//   - bundle.supervise, and the runtime (the isolation boundary).
//
// Addresses, names, images and prompts are reviewed after them.
func IsSecurityRelevant(c Change) bool {
	if c.Kind == InstanceAdded || c.Kind == InstanceRemoved {
		return true
	}
	p := c.Path
	switch {
	case under(p, "bundle.proxy.routes"),
		under(p, "bundle.supervise"),
		under(p, "bundle.secrets_from_host"),
		under(p, "env_from_host"),
		under(p, "env_prompted"),
		under(p, "guest_env"),
		p == "runtime",
		p == "bundle.git_gate":
		return true
	case under(p, "bundle.git_gate.repos"):
		return !strings.HasSuffix(p, ".gate_url")
	}
	return false
}

// under reports whether path is prefix or inside it.
func under(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	rest := path[len(prefix):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}

func bySlug(p *Plan) map[string]*Instance {
	m := make(map[string]*Instance, len(p.Instances))
	for i := range p.Instances {
		m[p.Instances[i].Slug] = &p.Instances[i]
	}
	return m
}

// keyed is a JSON object whose keys are identities (env names, route
// hosts, repo names) rather than field names; a path names its members
// as [key].
type keyed map[string]any

// keyedList is a list of objects indexed by their identity field; it
// is compared member by member like keyed but written as the list.
type keyedList struct {
	byID keyed
	list []any
}

// MarshalJSON writes the original list, so values render as in the plan.
func (k keyedList) MarshalJSON() ([]byte, error) { return json.Marshal(k.list) }

// keyedLists are the lists compared element by element, with the field
// that identifies an element.
var keyedLists = map[string]string{
	"bundle.proxy.routes":   "host",
	"bundle.git_gate.repos": "name",
}

// keyedMaps are the Go maps of an instance, whose keys are names.
var keyedMaps = []string{"guest_env", "env_from_host", "env_prompted"}

// instanceTree is the canonical JSON of in as generic values, with the
// identity-keyed lists and maps turned into keyed objects.
func instanceTree(in *Instance) any {
	b, err := marshalNoEscape(withEmptyCollections(in), "")
	if err != nil {
		// An Instance is plain data: marshalling cannot fail.
		panic(fmt.Sprintf("plan: marshal instance: %v", err))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		panic(fmt.Sprintf("plan: decode instance: %v", err))
	}
	root := tree.(map[string]any)
	for _, name := range keyedMaps {
		if m, ok := root[name].(map[string]any); ok {
			root[name] = keyed(m)
		}
	}
	for path, id := range keyedLists {
		parent, last := lookupParent(root, path)
		if parent == nil {
			continue
		}
		if list, ok := parent[last].([]any); ok {
			if k := keyList(list, id); k != nil {
				parent[last] = keyedList{byID: k, list: list}
			}
		}
	}
	return tree
}

// lookupParent follows a dotted path of object fields and returns the
// object holding its last element, or nil.
func lookupParent(root map[string]any, path string) (map[string]any, string) {
	parts := strings.Split(path, ".")
	cur := root
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			return nil, ""
		}
		cur = next
	}
	return cur, parts[len(parts)-1]
}

// keyList indexes a list of objects by their id field; nil when an
// element lacks it or two share it (the list is then compared whole).
func keyList(list []any, id string) keyed {
	k := make(keyed, len(list))
	for _, el := range list {
		obj, ok := el.(map[string]any)
		if !ok {
			return nil
		}
		key, ok := obj[id].(string)
		if !ok {
			return nil
		}
		if _, dup := k[key]; dup {
			return nil
		}
		k[key] = obj
	}
	return k
}

// diffValue appends the changes from a to b at path.
func diffValue(out *[]Change, slug, path string, a, b any) {
	switch av := a.(type) {
	case keyed:
		if bv, ok := b.(keyed); ok {
			diffMembers(out, slug, av, bv, func(k string) string { return path + "[" + k + "]" })
			return
		}
	case keyedList:
		if bv, ok := b.(keyedList); ok {
			diffMembers(out, slug, av.byID, bv.byID, func(k string) string { return path + "[" + k + "]" })
			return
		}
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			diffMembers(out, slug, av, bv, func(k string) string { return joinPath(path, k) })
			return
		}
	}
	if ca, cb := compact(a), compact(b); ca != cb {
		*out = append(*out, Change{Instance: slug, Path: path, Kind: FieldChanged, Old: ca, New: cb})
	}
}

// diffMembers compares two objects member by member, in key order. A
// member that is null or absent on one side only is added or removed.
func diffMembers(out *[]Change, slug string, a, b map[string]any, name func(string) string) {
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		av, bv := a[k], b[k]
		switch {
		case av == nil && bv == nil:
		case av == nil:
			*out = append(*out, Change{Instance: slug, Path: name(k), Kind: FieldAdded, New: compact(bv)})
		case bv == nil:
			*out = append(*out, Change{Instance: slug, Path: name(k), Kind: FieldRemoved, Old: compact(av)})
		default:
			diffValue(out, slug, name(k), av, bv)
		}
	}
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// compact is v as one line of JSON with sorted keys and no HTML escaping.
func compact(v any) string {
	b, err := marshalNoEscape(v, "")
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(bytes.TrimSuffix(b, []byte("\n")))
}

// instanceSummary is one line about a whole instance: backend, subnet,
// egress hosts and git repos, what a reviewer must see of an instance
// that appears or goes.
func instanceSummary(in *Instance) string {
	parts := []string{in.Backend + " " + in.Network.Subnet}
	hosts := make([]string, len(in.Bundle.Proxy.Routes))
	for i, r := range in.Bundle.Proxy.Routes {
		hosts[i] = r.Host
	}
	if len(hosts) > 0 {
		parts = append(parts, "egress "+strings.Join(hosts, ", "))
	} else {
		parts = append(parts, "no egress")
	}
	if g := in.Bundle.GitGate; g != nil && len(g.Repos) > 0 {
		repos := make([]string, len(g.Repos))
		for i, r := range g.Repos {
			repos[i] = r.Name + " (" + r.Access + ")"
		}
		parts = append(parts, "git "+strings.Join(repos, ", "))
	}
	return strings.Join(parts, "; ")
}
