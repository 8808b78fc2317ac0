package plan

import (
	"cmp"
	"maps"
	"slices"
	"strings"
)

// IsReservedEnv reports whether name is one of the variables bottleplan
// sets itself to route traffic through the bundle (proxy, CA and git
// rewrite variables, and anything starting BOTTLEPLAN_). A manifest may
// not declare them, so in a plan's GuestEnv a reserved name was put there
// by the compiler and every other name was declared by the user.
func IsReservedEnv(name string) bool {
	switch strings.ToUpper(name) {
	case "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY":
		return true
	}
	switch name {
	case "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "GIT_CONFIG_COUNT":
		return true
	}
	return strings.HasPrefix(name, "GIT_CONFIG_KEY_") ||
		strings.HasPrefix(name, "GIT_CONFIG_VALUE_") ||
		strings.HasPrefix(name, "BOTTLEPLAN_")
}

// EnvMode says how a guest variable gets its value.
type EnvMode int

// Env modes, in the order a review lists them when names tie (they
// cannot in a valid plan).
const (
	EnvLiteral  EnvMode = iota // the value is in the plan (GuestEnv)
	EnvFromHost                // copied from a host variable at apply
	EnvPrompted                // asked for at apply
	// EnvProxyToken marks the provider's auth variable: the guest holds
	// GuestAuthPlaceholder and the proxy injects the real token upstream.
	EnvProxyToken
)

// EnvVar is one user-declared guest variable, by name: never its value.
type EnvVar struct {
	Name string
	Mode EnvMode
	// Source is the host variable NAME (EnvFromHost) or the prompt text
	// (EnvPrompted); "" for literals.
	Source string
}

// DeclaredEnv lists the variables the manifest declared for inst, sorted
// by name then mode: literals in GuestEnv that are not reserved, host
// copies and prompted ones. The variables bottleplan sets itself are left
// out; ReservedEnvCount counts them.
func DeclaredEnv(inst *Instance) []EnvVar {
	var out []EnvVar
	for _, k := range slices.Sorted(maps.Keys(inst.GuestEnv)) {
		switch {
		case IsReservedEnv(k):
		case inst.GuestEnv[k] == GuestAuthPlaceholder:
			out = append(out, EnvVar{Name: k, Mode: EnvProxyToken})
		default:
			out = append(out, EnvVar{Name: k, Mode: EnvLiteral})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(inst.EnvFromHost)) {
		out = append(out, EnvVar{Name: k, Mode: EnvFromHost, Source: inst.EnvFromHost[k]})
	}
	for _, k := range slices.Sorted(maps.Keys(inst.EnvPrompted)) {
		out = append(out, EnvVar{Name: k, Mode: EnvPrompted, Source: inst.EnvPrompted[k]})
	}
	slices.SortStableFunc(out, func(a, b EnvVar) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Mode, b.Mode))
	})
	return out
}

// ReservedEnvCount is how many of inst's GuestEnv variables bottleplan
// set itself (see IsReservedEnv).
func ReservedEnvCount(inst *Instance) int {
	n := 0
	for k := range inst.GuestEnv {
		if IsReservedEnv(k) {
			n++
		}
	}
	return n
}
