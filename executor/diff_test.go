package executor

import (
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/plan"
	"github.com/google/go-cmp/cmp"
)

// testInstance is a docker instance as the compiler would plan it.
func testInstance(slug, subnet24 string) plan.Instance {
	return plan.Instance{
		Slug:    slug,
		Backend: plan.BackendDocker,
		Runtime: "auto",
		Network: plan.Network{
			Subnet: subnet24 + ".0/28", Gateway: subnet24 + ".1", BundleIP: subnet24 + ".2", AgentIP: subnet24 + ".3", ProbeIP: subnet24 + ".4",
			InternalName: "p-" + slug + "-internal", EgressName: plan.EgressNetworkName("p"),
		},
		Agent:      plan.Agent{Name: slug, Image: "img", ContainerName: "p-" + slug + "-agent"},
		Bundle:     plan.Bundle{ContainerName: "p-" + slug + "-bundle"},
		ConfigHash: plan.ConfigHash{Network: "sha256:n-" + slug, Bundle: "sha256:b-" + slug, Agent: "sha256:a-" + slug},
	}
}

func testPlan(ins ...plan.Instance) *plan.Plan {
	return &plan.Plan{FormatVersion: 1, Project: "p", Instances: ins, PlanDigest: "sha256:plan"}
}

// live returns the resources of in that an in-sync apply leaves behind
// (its CA made for no routes, as testInstance has none); project adds
// the project's egress network.
func live(in plan.Instance) []Resource {
	n := in.Network
	return []Resource{
		{Role: RoleNetworkInternal, Instance: in.Slug, Name: n.InternalName, ID: "ni-" + in.Slug, ConfigHash: in.ConfigHash.Network, Subnet: n.Subnet, Gateway: n.Gateway, Internal: true},
		{Role: RoleBundle, Instance: in.Slug, Name: in.Bundle.ContainerName, ID: "cb-" + in.Slug, ConfigHash: in.ConfigHash.Bundle, State: "running", CAFingerprint: "sha256:ca-" + in.Slug,
			CADomains: []string{"invalid"}, Addresses: map[string]string{n.InternalName: n.BundleIP, "p-egress": "172.30.0.2"}},
		{Role: RoleAgent, Instance: in.Slug, Name: in.Agent.ContainerName, ID: "ca-" + in.Slug, ConfigHash: in.ConfigHash.Agent, State: "running", CAFingerprint: "sha256:ca-" + in.Slug,
			ImageID: imgOld, Addresses: map[string]string{n.InternalName: n.AgentIP}},
	}
}

// egressLive is project p's egress network as apply makes it.
func egressLive() Resource {
	return Resource{Role: RoleNetworkEgress, Name: "p-egress", ID: "ne", ConfigHash: EgressConfigHash("p-egress"), Subnet: "172.30.0.0/16", Gateway: "172.30.0.1"}
}

// project returns the live resources of instances, with the project's
// egress network first.
func project(instances ...[]Resource) []Resource {
	rs := []Resource{egressLive()}
	for _, r := range instances {
		rs = append(rs, r...)
	}
	return rs
}

// Image IDs for the image drift cases: live() agents run imgOld.
const (
	imgOld = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	imgNew = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

// edit returns rs with fn applied to the resource of role (removed when
// fn returns false).
func edit(rs []Resource, role Role, fn func(r *Resource) bool) []Resource {
	var out []Resource
	for _, r := range rs {
		if r.Role == role && !fn(&r) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func opLines(ch *Changes) []string {
	var ls []string
	for _, op := range ch.Ops() {
		ls = append(ls, op.String())
	}
	return ls
}

func TestDiff(t *testing.T) {
	a, b := testInstance("a", "10.0.1"), testInstance("b", "10.0.2")
	both := project(live(a), live(b))
	tests := map[string]struct {
		plan    *plan.Plan
		live    []Resource
		prune   bool
		replace []string
		images  map[string]string
		want    []string
		ca      map[string]CASource
		orphans []string
	}{
		"nothing live creates everything in order": {
			plan: testPlan(a),
			want: []string{
				"+ (project) network-egress p-egress (create: not found)",
				"+ a network-internal p-a-internal (create: not found)",
				"+ a bundle p-a-bundle (create: not found)",
				"+ a agent p-a-agent (create: not found)",
			},
			ca: map[string]CASource{"a": CAGenerate},
		},
		"in sync is a no-op": {
			plan: testPlan(a, b),
			live: both,
		},
		"bundle hash change replaces only that bundle and reuses its CA": {
			plan: testPlan(a, withBundleHash(b, "sha256:b2")),
			live: both,
			want: []string{"-/+ b bundle p-b-bundle (replace: config hash changed (bundle))"},
			ca:   map[string]CASource{"b": CAReuse},
		},
		"network hash change replaces the instance": {
			plan: testPlan(withNetworkHash(a, "sha256:n2")),
			live: project(live(a)),
			want: []string{
				"-/+ a network-internal p-a-internal (replace: config hash changed (network))",
				"-/+ a bundle p-a-bundle (replace: network recreated)",
				"-/+ a agent p-a-agent (replace: network recreated)",
			},
			ca: map[string]CASource{"a": CAReuse},
		},
		"stopped agent is started": {
			plan: testPlan(a),
			live: edit(project(live(a)), RoleAgent, func(r *Resource) bool { r.State, r.ExitCode, r.Addresses = "exited", 137, nil; return true }),
			want: []string{"~ a agent p-a-agent (update: not running (exited, exit code 137); start it)"},
		},
		"an agent the backend reports no networks for is left alone": {
			plan: testPlan(a),
			live: edit(project(live(a)), RoleAgent, func(r *Resource) bool { r.Addresses = nil; return true }),
		},
		"an agent on no network at all is replaced": {
			plan: testPlan(a),
			live: edit(project(live(a)), RoleAgent, func(r *Resource) bool { r.Addresses = map[string]string{}; return true }),
			want: []string{`-/+ a agent p-a-agent (replace: not attached to network "p-a-internal")`},
			ca:   map[string]CASource{"a": CAReuse},
		},
		"never started agent is replaced": {
			plan: testPlan(a),
			live: edit(project(live(a)), RoleAgent, func(r *Resource) bool { r.State, r.CAFingerprint, r.Addresses = "created", "", nil; return true }),
			want: []string{"-/+ a agent p-a-agent (replace: never started (an earlier apply stopped half way))"},
			ca:   map[string]CASource{"a": CAReuse},
		},
		"crash-looping bundle is replaced": {
			plan: testPlan(a),
			live: edit(project(live(a)), RoleBundle, func(r *Resource) bool { r.State = "restarting"; return true }),
			want: []string{"-/+ a bundle p-a-bundle (replace: container is restarting)"},
			ca:   map[string]CASource{"a": CAReuse},
		},
		"missing bundle regenerates the CA and replaces the agent": {
			plan: testPlan(a),
			live: edit(project(live(a)), RoleBundle, func(*Resource) bool { return false }),
			want: []string{
				"+ a bundle p-a-bundle (create: not found)",
				"-/+ a agent p-a-agent (replace: instance CA regenerated (the bundle had none))",
			},
			ca: map[string]CASource{"a": CAGenerate},
		},
		"agent trusting another CA is replaced": {
			plan: testPlan(a),
			live: edit(project(live(a)), RoleAgent, func(r *Resource) bool { r.CAFingerprint = "sha256:other"; return true }),
			want: []string{"-/+ a agent p-a-agent (replace: trusts a different CA than its bundle)"},
			ca:   map[string]CASource{"a": CAReuse},
		},
		"agent on the egress network is replaced": {
			plan: testPlan(a),
			live: edit(project(live(a)), RoleAgent, func(r *Resource) bool {
				r.Addresses = map[string]string{"p-a-internal": "10.0.1.3", "p-egress": "172.30.0.3"}
				return true
			}),
			want: []string{`-/+ a agent p-a-agent (replace: attached to network "p-egress" outside the plan)`},
			ca:   map[string]CASource{"a": CAReuse},
		},
		"bundle at another address is replaced": {
			plan: testPlan(a),
			live: edit(project(live(a)), RoleBundle, func(r *Resource) bool {
				r.Addresses = map[string]string{"p-a-internal": "10.0.1.9", "p-egress": "172.30.0.2"}
				return true
			}),
			want: []string{`-/+ a bundle p-a-bundle (replace: address drifted on "p-a-internal" (live 10.0.1.9, plan 10.0.1.2))`},
			ca:   map[string]CASource{"a": CAReuse},
		},
		"drifted subnet replaces the network and its containers": {
			plan: testPlan(a),
			live: edit(project(live(a)), RoleNetworkInternal, func(r *Resource) bool { r.Subnet = "10.9.9.0/28"; return true }),
			want: []string{
				"-/+ a network-internal p-a-internal (replace: subnet drifted (live 10.9.9.0/28, plan 10.0.1.0/28))",
				"-/+ a bundle p-a-bundle (replace: network recreated)",
				"-/+ a agent p-a-agent (replace: network recreated)",
			},
			ca: map[string]CASource{"a": CAReuse},
		},
		"orphans are listed without prune": {
			plan:    testPlan(a),
			live:    both,
			orphans: []string{"b"},
		},
		"orphans are deleted with prune": {
			plan:  testPlan(a),
			live:  both,
			prune: true,
			want: []string{
				"- b network-internal p-b-internal (delete: no longer in plan)",
				"- b bundle p-b-bundle (delete: no longer in plan)",
				"- b agent p-b-agent (delete: no longer in plan)",
			},
		},
		"a resource under another name is deleted": {
			plan: testPlan(a),
			live: append(project(live(a)), Resource{Role: RoleBundle, Instance: "a", Name: "old-a-bundle", ID: "x", State: "running"}),
			want: []string{`- a bundle old-a-bundle (delete: the plan names this bundle "p-a-bundle")`},
		},
		"a resource with an unknown role is deleted": {
			plan: testPlan(a),
			live: append(project(live(a)), Resource{Role: "probe", Instance: "a", Name: "p-a-probe", ID: "x"}),
			want: []string{`- a probe p-a-probe (delete: role "probe" is not in the plan)`},
		},
		"a smolmachines agent is named by its machine": {
			plan: testPlan(smol(a)),
			live: smolLive(a),
			want: nil,
		},
		"a smolmachines bridge that is internal is replaced": {
			plan: testPlan(smol(a)),
			live: edit(smolLive(a), RoleNetworkInternal, func(r *Resource) bool { r.Internal = true; return true }),
			want: []string{
				"-/+ a network-internal p-a-internal (replace: a smolmachines bundle's bridge is internal)",
				"-/+ a bundle p-a-bundle (replace: network recreated)",
				"-/+ a agent p-a-vm (replace: network recreated)",
			},
			ca: map[string]CASource{"a": CAReuse},
		},
		"an agent image reference that names the same image is a no-op": {
			plan:   testPlan(a),
			live:   project(live(a)),
			images: map[string]string{"img": imgOld},
		},
		"an agent image reference rebuilt since replaces only the agent": {
			plan:   testPlan(a, b),
			live:   both,
			images: map[string]string{"img": imgNew},
			want: []string{
				"-/+ a agent p-a-agent (replace: image img now names fedcba987654 (the container runs 0123456789ab))",
				"-/+ b agent p-b-agent (replace: image img now names fedcba987654 (the container runs 0123456789ab))",
			},
			ca: map[string]CASource{"a": CAReuse, "b": CAReuse},
		},
		"an agent image reference that names nothing now leaves the agent alone": {
			plan:   testPlan(a),
			live:   project(live(a)),
			images: map[string]string{"img": ""},
		},
		"an agent whose backend reports no image is not compared": {
			plan:   testPlan(a),
			live:   edit(project(live(a)), RoleAgent, func(r *Resource) bool { r.ImageID = ""; return true }),
			images: map[string]string{"img": imgNew},
		},
		"a container made with other limits is replaced alone": {
			plan: testPlan(a),
			live: edit(project(live(a)), RoleAgent, func(r *Resource) bool { r.LimitsDrift = "container limits changed (made with x, now y)"; return true }),
			want: []string{"-/+ a agent p-a-agent (replace: container limits changed (made with x, now y))"},
			ca:   map[string]CASource{"a": CAReuse},
		},
		"a smolmachines agent is not compared by image": {
			plan:   testPlan(smol(a)),
			live:   smolLive(a),
			images: map[string]string{"img": imgNew},
		},
		"replace forces the containers of the named instance only": {
			plan:    testPlan(a, b),
			live:    both,
			replace: []string{"b"},
			want: []string{
				"-/+ b bundle p-b-bundle (replace: asked for with --replace)",
				"-/+ b agent p-b-agent (replace: asked for with --replace)",
			},
			ca: map[string]CASource{"b": CAReuse},
		},
		"replace of a stopped agent replaces instead of starting it": {
			plan:    testPlan(a),
			live:    edit(project(live(a)), RoleAgent, func(r *Resource) bool { r.State, r.ExitCode = "exited", 1; return true }),
			replace: []string{"a"},
			want: []string{
				"-/+ a bundle p-a-bundle (replace: asked for with --replace)",
				"-/+ a agent p-a-agent (replace: asked for with --replace)",
			},
			ca: map[string]CASource{"a": CAReuse},
		},
		"replace of a missing instance creates it": {
			plan:    testPlan(a),
			replace: []string{"a"},
			want: []string{
				"+ (project) network-egress p-egress (create: not found)",
				"+ a network-internal p-a-internal (create: not found)",
				"+ a bundle p-a-bundle (create: not found)",
				"+ a agent p-a-agent (create: not found)",
			},
			ca: map[string]CASource{"a": CAGenerate},
		},
		"a bundle labelled with its config fields names the part that changed": {
			plan: testPlan(withRoute(a, "pypi.org")),
			live: withFields(project(live(a)), a),
			want: []string{
				"-/+ a bundle p-a-bundle (replace: config hash changed (bundle: proxy.routes); new instance CA (route host pypi.org is outside the bundle's CA name constraints))",
				"-/+ a agent p-a-agent (replace: instance CA regenerated (route host pypi.org is outside the bundle's CA name constraints))",
			},
			ca: map[string]CASource{"a": CAGenerate},
		},
		"an agent labelled with its config fields names the part that changed": {
			plan: testPlan(withAgentImage(a, "img:2")),
			live: withFields(project(live(a)), a),
			want: []string{"-/+ a agent p-a-agent (replace: config hash changed (agent: agent.image))"},
			ca:   map[string]CASource{"a": CAReuse},
		},
		"networks labelled with their config fields name the parts that changed": {
			plan: testPlan(withSubnet(a, "10.0.9")),
			live: withFields(project(live(a)), a),
			want: []string{
				"-/+ a network-internal p-a-internal (replace: config hash changed (network: gateway, subnet))",
				"-/+ a bundle p-a-bundle (replace: config hash changed (bundle: bundle_ip))",
				"-/+ a agent p-a-agent (replace: config hash changed (agent: agent_ip, bundle_ip))",
			},
			ca: map[string]CASource{"a": CAReuse},
		},
		"no egress network planned deletes a live one": {
			plan: testPlan(withoutEgress(a)),
			live: edit(project(live(a)), RoleBundle, func(r *Resource) bool { r.Addresses = map[string]string{"p-a-internal": "10.0.1.2"}; return true }),
			want: []string{"- (project) network-egress p-egress (delete: no instance of the project uses it any more)"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obs := &Observed{Project: "p", Resources: tc.live, Images: tc.images}
			ch := checkDiff(t, tc.plan, obs, DiffOptions{Prune: tc.prune, Replace: tc.replace}, tc.want, tc.ca)
			if d := cmp.Diff(tc.orphans, ch.Orphans); d != "" {
				t.Errorf("orphans (-want +got):\n%s", d)
			}
		})
	}
}

// checkDiff runs Diff and compares its ops and CA sources with want and
// ca (nil: no instance needs a CA).
func checkDiff(t *testing.T, p *plan.Plan, obs *Observed, opts DiffOptions, want []string, ca map[string]CASource) *Changes {
	t.Helper()
	ch, err := Diff(p, obs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, opLines(ch)); d != "" {
		t.Errorf("ops (-want +got):\n%s", d)
	}
	gotCA := map[string]CASource{}
	for _, ic := range ch.Instances {
		if ic.CA != CANone {
			gotCA[ic.Slug] = ic.CA
		}
		if ic.CA == CAReuse && (ic.CAFrom == nil || ic.CAFrom.Role != RoleBundle) {
			t.Errorf("instance %s reuses a CA from %+v, want its bundle", ic.Slug, ic.CAFrom)
		}
	}
	if ca == nil {
		ca = map[string]CASource{}
	}
	if d := cmp.Diff(ca, gotCA); d != "" {
		t.Errorf("CA sources (-want +got):\n%s", d)
	}
	return ch
}

func TestDiffReplaceUnknownInstance(t *testing.T) {
	_, err := Diff(testPlan(testInstance("a", "10.0.1")), &Observed{Project: "p"}, DiffOptions{Replace: []string{"a", "nope"}})
	want := `--replace "nope": the plan has no instance of that name; bottleplan show lists them`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

// withFields labels rs with the config fields of in, as the docker
// backend does at create.
func withFields(rs []Resource, in plan.Instance) []Resource {
	out := append([]Resource(nil), rs...)
	for i := range out {
		out[i].ConfigFields = ConfigFields(&in, out[i].Role)
	}
	return out
}

func withRoute(in plan.Instance, host string) plan.Instance {
	in.Bundle.Proxy.Routes = append(append([]plan.Route(nil), in.Bundle.Proxy.Routes...), plan.Route{Host: host, Ports: []int{443}})
	in.ConfigHash.Bundle += "-routes"
	return in
}

func withAgentImage(in plan.Instance, image string) plan.Instance {
	in.Agent.Image = image
	in.ConfigHash.Agent += "-image"
	return in
}

// withSubnet moves in to the /28 at subnet24.0, its hashes changing as
// the compiler's would.
func withSubnet(in plan.Instance, subnet24 string) plan.Instance {
	out := testInstance(in.Slug, subnet24)
	out.ConfigHash = in.ConfigHash
	out.ConfigHash.Network += "-moved"
	out.ConfigHash.Bundle += "-moved"
	out.ConfigHash.Agent += "-moved"
	return out
}

func withBundleHash(in plan.Instance, h string) plan.Instance  { in.ConfigHash.Bundle = h; return in }
func withNetworkHash(in plan.Instance, h string) plan.Instance { in.ConfigHash.Network = h; return in }
func withoutEgress(in plan.Instance) plan.Instance             { in.Network.EgressName = ""; return in }

// smolLive is the live state of smol(in): a plain bridge (the machine
// reaches the bundle through the host), no egress network, the agent a
// machine without addresses.
func smolLive(in plan.Instance) []Resource {
	return edit(edit(edit(edit(live(in), RoleNetworkEgress, func(*Resource) bool { return false }), RoleAgent, func(r *Resource) bool {
		r.Name, r.Addresses = "p-a-vm", nil
		return true
	}), RoleBundle, func(r *Resource) bool {
		r.Addresses = map[string]string{"p-a-internal": "10.0.1.2"}
		return true
	}), RoleNetworkInternal, func(r *Resource) bool { r.Internal = false; return true })
}

// smol makes in a smolmachines instance: no egress network, the agent a
// machine.
func smol(in plan.Instance) plan.Instance {
	in.Backend, in.Network.EgressName, in.Network.AgentIP = plan.BackendSmolmachines, "", ""
	in.Agent.ContainerName, in.Agent.MachineName = "", "p-a-vm"
	return in
}

func TestDiffSubnetOverlap(t *testing.T) {
	a := testInstance("a", "10.0.1")
	a.Network.Pinned = true
	tests := map[string]struct {
		networks []HostNetwork
		wantErr  string
	}{
		"foreign network overlapping": {
			networks: []HostNetwork{{Name: "corp-vpn", Subnets: []string{"10.0.0.0/16"}}},
			wantErr:  `instance "a": pinned subnet 10.0.1.0/28 overlaps network "corp-vpn" (10.0.0.0/16), which bottleplan does not own; pin another subnet or remove that network`,
		},
		"another project's network": {
			networks: []HostNetwork{{Name: "q-x-internal", Project: "q", Subnets: []string{"10.0.1.0/28"}}},
			wantErr:  `which belongs to bottleplan project "q"`,
		},
		"own network is not a conflict": {
			networks: []HostNetwork{{Name: "p-a-internal", Project: "p", Subnets: []string{"10.0.1.0/28"}}},
		},
		"disjoint and IPv6 networks pass": {
			networks: []HostNetwork{{Name: "bridge", Subnets: []string{"172.17.0.0/16", "fd00::/64"}}, {Name: "next", Subnets: []string{"10.0.1.16/28"}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Diff(testPlan(a), &Observed{Project: "p", Networks: tc.networks}, DiffOptions{})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestDiffDestroy(t *testing.T) {
	a, b := testInstance("a", "10.0.1"), testInstance("b", "10.0.2")
	obs := &Observed{Project: "p", Resources: project(live(a), live(b))}
	all := DiffDestroy(obs, "").Ops()
	if got := len(all); got != 7 {
		t.Errorf("destroy all: %d ops, want 7", got)
	}
	if last := all[len(all)-1]; last.Role != RoleNetworkEgress || last.Instance != SharedInstance {
		t.Errorf("destroy all: last op %v, want the project's egress network", last)
	}
	ch := DiffDestroy(obs, "b")
	for _, op := range ch.Ops() {
		if op.Instance != "b" || op.Kind != Delete {
			t.Errorf("destroy --instance b: unexpected op %v", op)
		}
	}
	if got := len(ch.Ops()); got != 3 {
		t.Errorf("destroy b: %d ops, want 3 (a still uses the egress network)", got)
	}
	// The last instance takes the egress network with it.
	ch = DiffDestroy(&Observed{Project: "p", Resources: project(live(b))}, "b")
	if got := opLines(ch); len(got) != 4 || got[3] != "- (project) network-egress p-egress (delete: destroy requested)" {
		t.Errorf("destroy of the last instance: %q, want its 3 resources then the egress network", got)
	}
}
