package docker

import (
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/executor"
)

// TestLimitsDrift: a container is reported for replacement exactly when
// its limits label is not what this backend would stamp for its role; a
// change to any limit (here, an added capability) moves the digest.
func TestLimitsDrift(t *testing.T) {
	b := New(nil, Options{})
	raw := New(nil, Options{})
	raw.agentCapAdd = []string{"NET_RAW"}
	agent, bundle := b.limitsDigest(executor.RoleAgent), b.limitsDigest(executor.RoleBundle)
	if agent == "" || bundle == "" || agent == bundle || raw.limitsDigest(executor.RoleAgent) == agent {
		t.Fatalf("digests agent %q bundle %q agent+NET_RAW %q: want distinct and set", agent, bundle, raw.limitsDigest(executor.RoleAgent))
	}
	tests := map[string]struct {
		role  executor.Role
		label string
		want  string // substring of the drift; "" for none
	}{
		"agent current":         {executor.RoleAgent, agent, ""},
		"bundle current":        {executor.RoleBundle, bundle, ""},
		"agent made before":     {executor.RoleAgent, "", "made without " + LabelLimits},
		"bundle other version":  {executor.RoleBundle, "0123456789ab", "made with 0123456789ab"},
		"agent with bundle's":   {executor.RoleAgent, bundle, "made with " + bundle},
		"network has no limits": {executor.RoleNetworkInternal, "", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := b.limitsDrift(tc.role, tc.label)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("limitsDrift = %q, want %q", got, tc.want)
			}
		})
	}
}
