package executor

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/bottleplan/bottleplan/plan"
)

// legacy is in as a plan made before the egress network was shared
// names it: an egress network of the instance's own.
func legacy(in plan.Instance) plan.Instance {
	in.Network.EgressName = "p-" + in.Slug + "-egress"
	return in
}

// legacyLive is what applying legacy(in) left before the egress network
// was shared: a per-instance egress network, the bundle on it, every
// resource labelled with its config fields.
func legacyLive(in plan.Instance) []Resource {
	old := legacy(in)
	rs := withFields(live(old), old)
	rs = append(rs, Resource{Role: RoleNetworkEgress, Instance: in.Slug, Name: old.Network.EgressName, ID: "ne-" + in.Slug,
		ConfigHash: in.ConfigHash.Network, ConfigFields: ConfigFields(&old, RoleNetworkEgress), Subnet: "172.30.0.0/16", Gateway: "172.30.0.1"})
	return edit(rs, RoleBundle, func(r *Resource) bool {
		r.Addresses = map[string]string{in.Network.InternalName: in.Network.BundleIP, old.Network.EgressName: "172.30.0.2"}
		return true
	})
}

func TestDiffSharedEgress(t *testing.T) {
	a, b := testInstance("a", "10.0.1"), testInstance("b", "10.0.2")
	tests := map[string]struct {
		plan  *plan.Plan
		live  []Resource
		prune bool
		want  []string
		ca    map[string]CASource
	}{
		"two instances share one egress network": {
			plan: testPlan(a, b),
			want: []string{
				"+ (project) network-egress p-egress (create: not found)",
				"+ a network-internal p-a-internal (create: not found)",
				"+ a bundle p-a-bundle (create: not found)",
				"+ a agent p-a-agent (create: not found)",
				"+ b network-internal p-b-internal (create: not found)",
				"+ b bundle p-b-bundle (create: not found)",
				"+ b agent p-b-agent (create: not found)",
			},
			ca: map[string]CASource{"a": CAGenerate, "b": CAGenerate},
		},
		"a plan from before, applied: only the bundle moves": {
			plan: testPlan(legacy(a)),
			live: legacyLive(a),
			want: []string{
				"+ (project) network-egress p-egress (create: not found)",
				`- a network-egress p-a-egress (delete: the project's bundles share egress network "p-egress" now)`,
				`-/+ a bundle p-a-bundle (replace: moves to the project's egress network "p-egress")`,
			},
			ca: map[string]CASource{"a": CAReuse},
		},
		"a plan made now, over what a plan from before left: only the bundle": {
			plan: testPlan(withBundleHash(withNetworkHash(a, "sha256:n-a-shared"), "sha256:b-a-shared")),
			live: legacyLive(a),
			want: []string{
				"+ (project) network-egress p-egress (create: not found)",
				`- a network-egress p-a-egress (delete: the project's bundles share egress network "p-egress" now)`,
				"-/+ a bundle p-a-bundle (replace: config hash changed (bundle: egress_name))",
			},
			ca: map[string]CASource{"a": CAReuse},
		},
		"a plan made now, over a network labelled by a release before ConfigParts: kept": {
			plan: testPlan(withBundleHash(withNetworkHash(a, "sha256:n-a-shared"), "sha256:b-a-shared")),
			// The internal network's config-fields label as b7a7c9a wrote
			// it: one "names" part for the internal and the egress name.
			live: edit(legacyLive(a), RoleNetworkInternal, func(r *Resource) bool {
				if r.Instance != "a" {
					return false
				}
				f := parseFields(r.ConfigFields)
				r.ConfigFields = "backend=" + f["backend"] + ",gateway=" + f["gateway"] + ",names=0123456789ab,subnet=" + f["subnet"]
				return true
			}),
			want: []string{
				"+ (project) network-egress p-egress (create: not found)",
				`- a network-egress p-a-egress (delete: the project's bundles share egress network "p-egress" now)`,
				"-/+ a bundle p-a-bundle (replace: config hash changed (bundle: egress_name))",
			},
			ca: map[string]CASource{"a": CAReuse},
		},
		"an internal network whose subnet changed with the egress name is still replaced": {
			plan: testPlan(withSubnet(a, "10.0.9")),
			live: legacyLive(a),
			want: []string{
				"+ (project) network-egress p-egress (create: not found)",
				"-/+ a network-internal p-a-internal (replace: config hash changed (network: egress_name, gateway, subnet))",
				`- a network-egress p-a-egress (delete: the project's bundles share egress network "p-egress" now)`,
				"-/+ a bundle p-a-bundle (replace: config hash changed (bundle: bundle_ip, egress_name))",
				"-/+ a agent p-a-agent (replace: config hash changed (agent: agent_ip, bundle_ip))",
			},
			ca: map[string]CASource{"a": CAReuse},
		},
		"an internal egress network is replaced with every bundle on it": {
			plan: testPlan(a, b),
			live: edit(project(live(a), live(b)), RoleNetworkEgress, func(r *Resource) bool { r.Internal = true; return true }),
			want: []string{
				"-/+ (project) network-egress p-egress (replace: egress network is internal)",
				"-/+ a bundle p-a-bundle (replace: egress network recreated)",
				"-/+ b bundle p-b-bundle (replace: egress network recreated)",
			},
			ca: map[string]CASource{"a": CAReuse, "b": CAReuse},
		},
		"an egress network of another hash is replaced": {
			plan: testPlan(a),
			live: edit(project(live(a)), RoleNetworkEgress, func(r *Resource) bool { r.ConfigHash = "sha256:other"; return true }),
			want: []string{
				"-/+ (project) network-egress p-egress (replace: config hash changed (egress network))",
				"-/+ a bundle p-a-bundle (replace: egress network recreated)",
			},
			ca: map[string]CASource{"a": CAReuse},
		},
		"a container labelled with the project alone is an orphan, not shared": {
			plan: testPlan(a),
			live: append(project(live(a)), Resource{Role: "test-upstream", Name: "p-upstream", ID: "u", State: "running"}),
		},
		"a second project-level network is deleted": {
			plan: testPlan(a),
			live: append(project(live(a)), Resource{Role: RoleNetworkEgress, Name: "p-egress-old", ID: "x"}),
			want: []string{`- (project) network-egress p-egress-old (delete: the project's egress network is "p-egress")`},
		},
		"an orphan left alone keeps the egress network": {
			plan: testPlan(smol(a)),
			live: append(project(live(b)), smolLive(a)...),
		},
		"pruning the last docker instance deletes the egress network": {
			plan:  testPlan(smol(a)),
			live:  append(project(live(b)), smolLive(a)...),
			prune: true,
			want: []string{
				"- b network-internal p-b-internal (delete: no longer in plan)",
				"- b bundle p-b-bundle (delete: no longer in plan)",
				"- b agent p-b-agent (delete: no longer in plan)",
				"- (project) network-egress p-egress (delete: no instance of the project uses it any more)",
			},
		},
		"a smolmachines instance has no egress network": {
			plan: testPlan(smol(a)),
			live: smolLive(a),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkDiff(t, tc.plan, &Observed{Project: "p", Resources: tc.live}, DiffOptions{Prune: tc.prune}, tc.want, tc.ca)
		})
	}
}

// sequencer is a recorder that also keeps one log of every call in the
// order they happened, across instances.
type sequencer struct {
	recorder
	mu  sync.Mutex
	seq []string
}

func (s *sequencer) note(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq = append(s.seq, what)
}

func (s *sequencer) Create(ctx context.Context, req CreateRequest) error {
	s.note("create " + string(req.Role) + " " + req.Name)
	return s.recorder.Create(ctx, req)
}

func (s *sequencer) Remove(ctx context.Context, r Resource, step StepFunc) error {
	s.note("remove " + string(r.Role) + " " + r.Name)
	return s.recorder.Remove(ctx, r, step)
}

func TestApplySharedEgressOrder(t *testing.T) {
	a, b := testInstance("a", "10.0.1"), testInstance("b", "10.0.2")
	tests := map[string]struct {
		plan *plan.Plan
		live []Resource
		// before[x] = y: call x happens before call y.
		before [][2]string
	}{
		"created before any bundle joins it": {
			plan: testPlan(a, b),
			before: [][2]string{
				{"create network-egress p-egress", "create bundle p-a-bundle"},
				{"create network-egress p-egress", "create bundle p-b-bundle"},
			},
		},
		"replaced after every bundle on it is gone, before they come back": {
			plan: testPlan(a, b),
			live: edit(project(live(a), live(b)), RoleNetworkEgress, func(r *Resource) bool { r.Internal = true; return true }),
			before: [][2]string{
				{"remove bundle p-a-bundle", "remove network-egress p-egress"},
				{"remove bundle p-b-bundle", "remove network-egress p-egress"},
				{"remove network-egress p-egress", "create network-egress p-egress"},
				{"create network-egress p-egress", "create bundle p-a-bundle"},
				{"create network-egress p-egress", "create bundle p-b-bundle"},
			},
		},
		"a plan from before: the bundle leaves its network for the shared one": {
			plan: testPlan(legacy(a)),
			live: legacyLive(a),
			before: [][2]string{
				{"create network-egress p-egress", "create bundle p-a-bundle"},
				{"remove bundle p-a-bundle", "remove network-egress p-a-egress"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ch, err := Diff(tc.plan, &Observed{Project: "p", Resources: tc.live}, DiffOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := &sequencer{}
			if err := Apply(context.Background(), s, tc.plan, ch, ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, pair := range tc.before {
				i, j := slices.Index(s.seq, pair[0]), slices.Index(s.seq, pair[1])
				if i < 0 || j < 0 || i > j {
					t.Errorf("want %q before %q; calls: %q", pair[0], pair[1], s.seq)
				}
			}
			if slices.Contains(s.seq, "remove agent p-a-agent") {
				t.Errorf("the agent was removed: %q", s.seq)
			}
		})
	}
}

func TestApplySharedEgressFailureStopsCreates(t *testing.T) {
	a := testInstance("a", "10.0.1")
	p := testPlan(a)
	ch, _ := Diff(p, &Observed{Project: "p"}, DiffOptions{})
	rec := &recorder{fail: "/network-egress"}
	err := Apply(context.Background(), rec, p, ch, ApplyOptions{})
	if err == nil || err.Error() != `project "p": create network-egress "p-egress": boom` {
		t.Fatalf("error = %v", err)
	}
	if len(rec.calls["a"]) != 0 {
		t.Errorf("instance a went on without its egress network: %v", rec.calls["a"])
	}
}
