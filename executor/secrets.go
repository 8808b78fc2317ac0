package executor

import (
	"fmt"
	"maps"
	"slices"
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
	// SSHKeys holds, per git gate repo name, the private key read from
	// the repo's key_path (key provider "static"). The backend puts each
	// in the bundle at plan.BundleSSHKeyDir/<repo>, mode 0600.
	SSHKeys map[string][]byte
}

// String redacts the values.
func (s InstanceSecrets) String() string {
	keys := slices.Sorted(maps.Keys(s.SSHKeys))
	return fmt.Sprintf("InstanceSecrets{bundle: %s, agent: %s, ssh keys: [%s]}", names(s.Bundle), names(s.Agent), strings.Join(keys, " "))
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
	// Name is the variable name inside the container, or the repo name
	// for an ssh key.
	Name string
	// KeyPath is the host path of a git gate repo's ssh key as the plan
	// writes it (key provider "static"); "" for env values.
	KeyPath string
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
			if g := in.Bundle.GitGate; g != nil {
				for _, r := range g.Repos {
					if r.KeyProvider == "static" && r.KeyPath != "" {
						needs = append(needs, SecretNeed{Instance: in.Slug, Role: RoleBundle, Name: r.Name, KeyPath: r.KeyPath})
					}
				}
			}
		}
		if m[RoleAgent] {
			for _, g := range slices.Sorted(maps.Keys(in.EnvFromHost)) {
				needs = append(needs, SecretNeed{Instance: in.Slug, Role: RoleAgent, Name: g, HostName: in.EnvFromHost[g]})
			}
			for _, g := range slices.Sorted(maps.Keys(in.EnvPrompted)) {
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

// HostSecrets read what apply takes from the host: env values and ssh
// key files. Implementations live in the CLI, the only place that reads
// the environment.
type HostSecrets struct {
	// Lookup returns a host variable and whether it is set.
	Lookup func(name string) (string, bool)
	// ReadKey returns the content of an ssh key named by its key_path as
	// written in the plan (the reader expands ~ and relative paths).
	ReadKey func(keyPath string) ([]byte, error)
}

// CheckHost fails, naming every missing variable and unreadable key
// file, when a host value of needs is not available. Apply calls it
// before asking for confirmation.
func CheckHost(needs []SecretNeed, host HostSecrets) error {
	var missing []string
	seen := map[string]bool{}
	for _, n := range needs {
		if n.KeyPath != "" {
			if _, err := host.ReadKey(n.KeyPath); err != nil {
				missing = append(missing, fmt.Sprintf("ssh key %s of repo %q of instance %q (%v)", n.KeyPath, n.Name, n.Instance, err))
			}
			continue
		}
		if n.Prompted || seen[n.HostName] {
			continue
		}
		if _, ok := host.Lookup(n.HostName); !ok {
			seen[n.HostName] = true
			missing = append(missing, fmt.Sprintf("%s (for %s %s of instance %q)", n.HostName, n.Role, n.Name, n.Instance))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("host secrets missing: %s; export the variables or fix the key paths and run apply again", strings.Join(missing, ", "))
	}
	return nil
}

// ResolveSecrets obtains every need: host values and ssh keys through
// host (everything missing is reported together, by name, before
// anything is prompted for), then prompted values through prompt. Errors
// name variables and paths, never values.
func ResolveSecrets(needs []SecretNeed, host HostSecrets, prompt func(SecretNeed) (string, error)) (map[string]InstanceSecrets, error) {
	if err := CheckHost(needs, host); err != nil {
		return nil, err
	}
	out := map[string]InstanceSecrets{}
	for _, n := range needs {
		var v string
		if n.KeyPath != "" {
			key, err := host.ReadKey(n.KeyPath)
			if err != nil {
				return nil, fmt.Errorf("ssh key %s of repo %q: %w", n.KeyPath, n.Name, err)
			}
			s := out[n.Instance]
			if s.SSHKeys == nil {
				s.SSHKeys = map[string][]byte{}
			}
			s.SSHKeys[n.Name] = key
			out[n.Instance] = s
			continue
		}
		if n.Prompted {
			pv, err := prompt(n)
			if err != nil {
				return nil, err
			}
			v = pv
		} else {
			v, _ = host.Lookup(n.HostName)
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
