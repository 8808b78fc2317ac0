package executor

import (
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/plan"
	"github.com/google/go-cmp/cmp"
)

// withHosts sets in's routes to hosts (port 443 each) with a bundle hash
// that names them, as the compiler's would change with them.
func withHosts(in plan.Instance, hosts ...string) plan.Instance {
	in.Bundle.Proxy.Routes = nil
	for _, h := range hosts {
		in.Bundle.Proxy.Routes = append(in.Bundle.Proxy.Routes, plan.Route{Host: h, Ports: []int{443}})
		in.ConfigHash.Bundle += "+" + h
	}
	return in
}

// TestDiffCAFollowsRouteHosts: the instance CA certifies only the route
// hosts it was made for (its name constraints), so Diff keeps it while it
// covers the plan's route hosts and makes a new one, replacing the agent
// that trusts the old one, when a host falls outside it.
func TestDiffCAFollowsRouteHosts(t *testing.T) {
	base := testInstance("a", "10.0.1")
	old := withHosts(base, "api.example.test", "*.cdn.test")
	liveWith := func(domains ...string) []Resource {
		return edit(live(old), RoleBundle, func(r *Resource) bool { r.CADomains = domains; return true })
	}
	const added = "route host pypi.org is outside the bundle's CA name constraints"
	tests := map[string]struct {
		plan    plan.Instance
		live    []Resource
		replace []string
		want    []string
		ca      CASource
	}{
		"same hosts: nothing to do": {
			plan: old,
			live: liveWith(".cdn.test", "api.example.test"),
		},
		"a host added outside the CA: new CA, bundle and agent replaced": {
			plan: withHosts(base, "api.example.test", "*.cdn.test", "pypi.org"),
			live: liveWith(".cdn.test", "api.example.test"),
			want: []string{
				"-/+ a bundle p-a-bundle (replace: config hash changed (bundle); new instance CA (" + added + "))",
				"-/+ a agent p-a-agent (replace: instance CA regenerated (" + added + "))",
			},
			ca: CAGenerate,
		},
		"a host removed: the CA still covers the rest and is kept": {
			plan: withHosts(base, "api.example.test"),
			live: liveWith(".cdn.test", "api.example.test"),
			want: []string{"-/+ a bundle p-a-bundle (replace: config hash changed (bundle))"},
			ca:   CAReuse,
		},
		"a host under a wildcard the CA permits is covered": {
			plan: withHosts(base, "api.example.test", "*.cdn.test", "img.cdn.test"),
			live: liveWith(".cdn.test", "api.example.test"),
			want: []string{"-/+ a bundle p-a-bundle (replace: config hash changed (bundle))"},
			ca:   CAReuse,
		},
		"a wildcard over an exact host widens the CA": {
			plan: withHosts(base, "*.example.test", "*.cdn.test"),
			live: liveWith(".cdn.test", "api.example.test"),
			want: []string{
				"-/+ a bundle p-a-bundle (replace: config hash changed (bundle); new instance CA (route host *.example.test is outside the bundle's CA name constraints))",
				"-/+ a agent p-a-agent (replace: instance CA regenerated (route host *.example.test is outside the bundle's CA name constraints))",
			},
			ca: CAGenerate,
		},
		"a CA without name constraints is replaced once": {
			plan: old,
			live: liveWith(),
			want: []string{
				"-/+ a bundle p-a-bundle (replace: new instance CA (the bundle's CA has no name constraints))",
				"-/+ a agent p-a-agent (replace: instance CA regenerated (the bundle's CA has no name constraints))",
			},
			ca: CAGenerate,
		},
		"--replace keeps a CA that covers the hosts": {
			plan:    old,
			live:    liveWith(".cdn.test", "api.example.test"),
			replace: []string{"a"},
			want: []string{
				"-/+ a bundle p-a-bundle (replace: asked for with --replace)",
				"-/+ a agent p-a-agent (replace: asked for with --replace)",
			},
			ca: CAReuse,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ch, err := Diff(testPlan(tc.plan), &Observed{Project: "p", Resources: tc.live}, DiffOptions{Replace: tc.replace})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, opLines(ch)); d != "" {
				t.Errorf("ops (-want +got):\n%s", d)
			}
			var got CASource
			if len(ch.Instances) == 1 {
				got = ch.Instances[0].CA
			}
			if got != tc.ca {
				t.Errorf("CA source %q, want %q", got, tc.ca)
			}
		})
	}
}

// TestDiffCASupervised: a supervised instance's CA permits every DNS
// name (a host may be granted at runtime), so route changes keep it and
// only supervise going on or off changes it.
func TestDiffCASupervised(t *testing.T) {
	sup := withHosts(testInstance("a", "10.0.1"), "api.example.test")
	sup.Bundle.Supervise = &plan.Supervise{Listen: "10.0.1.2:9090"}
	liveWith := func(in plan.Instance, domains ...string) []Resource {
		return edit(live(in), RoleBundle, func(r *Resource) bool { r.CADomains = domains; return true })
	}
	unsup := sup
	unsup.Bundle.Supervise = nil
	tests := map[string]struct {
		plan plan.Instance
		live []Resource
		want string // the bundle op's cause; "" for no op
		ca   CASource
	}{
		"supervised, any-name CA: kept": {plan: sup, live: liveWith(sup, AnyDNSName)},
		"supervised, a host added: the any-name CA is kept": {
			plan: withHosts(sup, "api.example.test", "pypi.org"), live: liveWith(sup, AnyDNSName),
			want: "replace: config hash changed (bundle)", ca: CAReuse,
		},
		"supervise turned on over a narrow CA: new CA": {
			plan: sup, live: liveWith(unsup, "api.example.test"),
			want: "new instance CA (supervise is on: the CA must certify hosts the operator grants at runtime)", ca: CAGenerate,
		},
		"supervise turned off over an any-name CA: narrowed": {
			plan: unsup, live: liveWith(unsup, AnyDNSName),
			want: "new instance CA (supervise is off: the CA is narrowed to the route hosts)", ca: CAGenerate,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ch, err := Diff(testPlan(tc.plan), &Observed{Project: "p", Resources: tc.live}, DiffOptions{})
			if err != nil {
				t.Fatal(err)
			}
			lines := opLines(ch)
			if tc.want == "" {
				if len(lines) != 0 {
					t.Fatalf("ops %v, want none", lines)
				}
				return
			}
			if len(lines) == 0 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("ops %v, want the bundle's to say %q", lines, tc.want)
			}
			if got := ch.Instances[0].CA; got != tc.ca {
				t.Errorf("CA source %q, want %q", got, tc.ca)
			}
		})
	}
}
