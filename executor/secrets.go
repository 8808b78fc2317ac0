package executor

import (
	"fmt"
	"sort"
	"strings"

	"github.com/bottleplan/bottleplan/plan"
)

// InstanceSecrets are the secret env values one instance's containers get
// at creation, as NAME=value. They live only in memory and in the
// containers' process env; String and GoString redact them so a stray
// %v cannot print one.
type InstanceSecrets struct {
	// Bundle holds the bundle's secrets_from_host (host NAME=value).
	Bundle []string
	// Agent holds env_from_host and env_prompted (guest NAME=value).
	Agent []string
}

// String redacts the values.
func (s InstanceSecrets) String() string {
	return fmt.Sprintf("InstanceSecrets{bundle: %s, agent: %s}", names(s.Bundle), names(s.Agent))
}

// GoString redacts the values.
func (s InstanceSecrets) GoString() string { return s.String() }

func names(kvs []string) string {
	ns := make([]string, len(kvs))
	for i, kv := range kvs {
		n, _, _ := strings.Cut(kv, "=")
		ns[i] = n
	}
	return "[" + strings.Join(ns, " ") + "]"
}

// SecretNeed is one value apply must obtain before changing anything.
type SecretNeed struct {
	// Instance is the slug that needs it.
	Instance string
	// Role is RoleBundle or RoleAgent: whose env gets it.
	Role Role
	// Name is the variable name inside the container.
	Name string
	// HostName is the host variable it is copied from; "" when prompted.
	HostName string
	// Prompt is the text to ask with (Prompted only; "" for a bare "?").
	Prompt string
	// Prompted is true for env_prompted values.
	Prompted bool
}

// SecretNeeds lists the values the creates in ch need: only containers
// being created or replaced get env, so an apply that leaves an instance
// alone does not ask for its secrets. Sorted by instance, role, name.
func SecretNeeds(p *plan.Plan, ch *Changes) []SecretNeed {
	made := map[string]map[Role]bool{}
	for _, op := range ch.Ops() {
		if op.Kind == Create || op.Kind == Replace {
			if made[op.Instance] == nil {
				made[op.Instance] = map[Role]bool{}
			}
			made[op.Instance][op.Role] = true
		}
	}
	var needs []SecretNeed
	for _, in := range p.Instances {
		m := made[in.Slug]
		if m[RoleBundle] {
			for _, n := range in.Bundle.SecretsFromHost {
				needs = append(needs, SecretNeed{Instance: in.Slug, Role: RoleBundle, Name: n, HostName: n})
			}
		}
		if m[RoleAgent] {
			for _, g := range sortedKeys(in.EnvFromHost) {
				needs = append(needs, SecretNeed{Instance: in.Slug, Role: RoleAgent, Name: g, HostName: in.EnvFromHost[g]})
			}
			for _, g := range sortedKeys(in.EnvPrompted) {
				needs = append(needs, SecretNeed{Instance: in.Slug, Role: RoleAgent, Name: g, Prompt: in.EnvPrompted[g], Prompted: true})
			}
		}
	}
	sort.SliceStable(needs, func(i, j int) bool {
		a, b := needs[i], needs[j]
		if a.Instance != b.Instance {
			return a.Instance < b.Instance
		}
		if a.Role != b.Role {
			return a.Role.rank() < b.Role.rank()
		}
		return a.Name < b.Name
	})
	return needs
}

// CheckHost fails, naming every missing variable, when a host value of
// needs is not set. Apply calls it before asking for confirmation.
func CheckHost(needs []SecretNeed, lookupHost func(string) (string, bool)) error {
	var missing []string
	seen := map[string]bool{}
	for _, n := range needs {
		if n.Prompted || seen[n.HostName] {
			continue
		}
		if _, ok := lookupHost(n.HostName); !ok {
			seen[n.HostName] = true
			missing = append(missing, fmt.Sprintf("%s (for %s %s of instance %q)", n.HostName, n.Role, n.Name, n.Instance))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("host environment variables not set: %s; export them and run apply again", strings.Join(missing, ", "))
	}
	return nil
}

// ResolveSecrets obtains every need: host values through lookupHost (all
// missing host variables are reported together, by name, before anything
// is prompted for), then prompted values through prompt. Errors name
// variables, never values.
func ResolveSecrets(needs []SecretNeed, lookupHost func(string) (string, bool), prompt func(SecretNeed) (string, error)) (map[string]InstanceSecrets, error) {
	if err := CheckHost(needs, lookupHost); err != nil {
		return nil, err
	}
	out := map[string]InstanceSecrets{}
	for _, n := range needs {
		var v string
		if n.Prompted {
			pv, err := prompt(n)
			if err != nil {
				return nil, err
			}
			v = pv
		} else {
			v, _ = lookupHost(n.HostName)
		}
		s := out[n.Instance]
		if n.Role == RoleBundle {
			s.Bundle = append(s.Bundle, n.Name+"="+v)
		} else {
			s.Agent = append(s.Agent, n.Name+"="+v)
		}
		out[n.Instance] = s
	}
	return out, nil
}
