package executor

import (
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/bottleplan/bottleplan/plan"
)

// LabelConfigFields names, on resources made since it exists, which parts
// of the plan the resource was created from: "name=digest,..." sorted by
// name, each digest the first 12 hex digits of the sha256 of that part's
// canonical JSON. The config hash says whether a resource must be
// replaced; this label lets Diff say why in the plan's words
// ("config hash changed (bundle: proxy.routes)") where a single hash
// could not. Parts are plan fields (names, addresses, routes, literal
// env), never secret values; a resource without the label (made by an
// older bottleplan, or a smolvm machine) is reported by kind alone.
const LabelConfigFields = "io.bottleplan.config-fields"

// ConfigFields returns the LabelConfigFields value for the resource of
// role in in: one part per input of its config hash (plan.ConfigParts,
// the list the compiler hashes), a struct-valued input split one level
// down (a route change is "proxy.routes", not "proxy"), so every change
// that moves a config hash moves at least one part.
func ConfigFields(in *plan.Instance, role Role) string {
	parts := map[string]string{}
	add := func(name string, v any) {
		d, err := plan.CanonicalDigest(v)
		if err != nil {
			d = "unhashable"
		}
		d = strings.TrimPrefix(d, "sha256:")
		parts[name] = d[:min(12, len(d))]
	}
	// Each JSON field of the hash input is a part, but the resource
	// and version, which every resource of a kind shares; a struct
	// field is split one level down.
	var walk func(prefix string, v reflect.Value, depth int)
	walk = func(prefix string, v reflect.Value, depth int) {
		t := v.Type()
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if depth == 0 && (name == "resource" || name == "v") {
				continue
			}
			f := v.Field(i)
			s := f
			if s.Kind() == reflect.Pointer && !s.IsNil() {
				s = s.Elem()
			}
			if depth == 0 && s.Kind() == reflect.Struct {
				walk(name+".", s, depth+1)
				continue
			}
			add(prefix+name, f.Interface())
		}
	}
	if v := reflect.ValueOf(plan.ConfigParts(in, configResource(role))); v.Kind() == reflect.Struct {
		walk("", v, 0)
	}
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(parts)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(parts[k])
	}
	return b.String()
}

// configResource is the config hash that covers role.
func configResource(role Role) plan.ConfigResource {
	switch role {
	case RoleNetworkInternal, RoleNetworkEgress:
		return plan.ConfigNetwork
	case RoleBundle:
		return plan.ConfigBundle
	case RoleAgent:
		return plan.ConfigAgent
	}
	return ""
}

// changedFields lists, sorted, the parts whose digests differ between two
// LabelConfigFields values (a part present on one side only counts);
// nil when live is empty (the resource predates the label).
func changedFields(live, want string) []string {
	if live == "" {
		return nil
	}
	l, w := parseFields(live), parseFields(want)
	var out []string
	for k := range l {
		if l[k] != w[k] {
			out = append(out, k)
		}
	}
	for k := range w {
		if _, ok := l[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func parseFields(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
