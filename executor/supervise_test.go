package executor

import (
	"context"
	"slices"
	"testing"

	"github.com/bottleplan/bottleplan/plan"
	"github.com/google/go-cmp/cmp"
)

// grantBackend is a recorder that is also a Supervisor holding runtime
// grants per instance, as a bundle's operator API would.
type grantBackend struct {
	recorder
	live   []Resource
	grants map[string][]Grant
	asked  []string // instances whose grants were listed
}

func (g *grantBackend) Observe(context.Context, string) (*Observed, error) {
	return &Observed{Project: "p", Resources: g.live}, nil
}
func (g *grantBackend) PendingItems(context.Context, *plan.Instance) ([]PendingItem, error) {
	return nil, nil
}
func (g *grantBackend) Decide(context.Context, *plan.Instance, string, bool, string) error {
	return nil
}
func (g *grantBackend) Answer(context.Context, *plan.Instance, string, string) error { return nil }
func (g *grantBackend) Grants(_ context.Context, in *plan.Instance) ([]Grant, error) {
	g.asked = append(g.asked, in.Slug)
	return g.grants[in.Slug], nil
}
func (g *grantBackend) RevokeGrants(_ context.Context, in *plan.Instance) (int, error) {
	g.log(in.Slug, "revoke-grants")
	n := len(g.grants[in.Slug])
	delete(g.grants, in.Slug)
	return n, nil
}

func supervised(in plan.Instance) plan.Instance {
	in.Bundle.Supervise = &plan.Supervise{Listen: in.Network.BundleIP + ":9090", HoldTimeout: "5m0s"}
	return in
}

// routed gives the supervised in a route to host:443 and its live
// resources the CA InstanceCA makes for it (every name), so the route
// alone changes nothing live.
func routed(in plan.Instance, host string) (plan.Instance, []Resource) {
	in = withRoute(in, host)
	rs := edit(live(in), RoleBundle, func(r *Resource) bool { r.CADomains = []string{AnyDNSName}; return true })
	return in, rs
}

// TestRuntimeGrantsAreDrift: a live grant the plan's routes do not
// cover is a Revoke op on the bundle (nothing replaced), applied with
// one revoke; then the next observe finds none and Diff is empty. A
// grant a route covers (host and port, wildcards too) is no drift; an
// unsupervised instance is never asked; a bundle that is replaced anyway
// gets no Revoke.
func TestRuntimeGrantsAreDrift(t *testing.T) {
	a, liveA := routed(supervised(testInstance("a", "10.0.1")), "*.example.com")
	b := testInstance("b", "10.0.2") // supervise off
	gb := &grantBackend{live: project(liveA, live(b)), grants: map[string][]Grant{
		"a": {{Host: "api.example.com", Port: 443, ID: "i1"}, {Host: "api.example.com", Port: 22, ID: "i2"}, {Host: "evil.test", Port: 443, ID: "i3"}},
		"b": {{Host: "never.asked", Port: 443}},
	}}
	p := testPlan(a, b)
	ctx := context.Background()
	obs, err := ObservePlan(ctx, gb, p)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gb.asked, []string{"a"}) {
		t.Errorf("grants asked of %v, want only the supervised a", gb.asked)
	}
	ch, err := Diff(p, obs, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"~ a bundle p-a-bundle (revoke runtime grant api.example.com:22: not in the plan's routes)",
		"~ a bundle p-a-bundle (revoke runtime grant evil.test: not in the plan's routes)",
	}
	if diff := cmp.Diff(want, opLines(ch)); diff != "" {
		t.Fatalf("ops (-want +got):\n%s", diff)
	}
	if ch.Instances[0].CA != CANone {
		t.Errorf("a revoke needs no CA, got %q", ch.Instances[0].CA)
	}
	if err := Apply(ctx, gb, p, ch, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]string{"a": {"revoke-grants"}}, gb.calls); diff != "" {
		t.Errorf("apply calls (-want +got):\n%s", diff)
	}
	obs, err = ObservePlan(ctx, gb, p)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := Diff(p, obs, DiffOptions{}); err != nil || !ch.Empty() {
		t.Errorf("after the revoke: %v %v", opLines(ch), err)
	}

	// A bundle replaced anyway drops its grants: no Revoke op.
	obs.Grants = map[string][]Grant{"a": {{Host: "evil.test", Port: 443}}}
	ch, err = Diff(testPlan(withBundleHash(a, "sha256:other"), b), obs, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ch.Ops() {
		if op.Kind == Revoke {
			t.Errorf("revoke beside a replaced bundle: %v", opLines(ch))
		}
	}
	// A stopped bundle is not asked (its grants died with its process).
	gb.grants = map[string][]Grant{"a": {{Host: "evil.test", Port: 443}}}
	gb.live = edit(gb.live, RoleBundle, func(r *Resource) bool { r.State = "exited"; return true })
	gb.asked = nil
	if _, err := ObservePlan(ctx, gb, p); err != nil || len(gb.asked) != 0 {
		t.Errorf("a stopped bundle was asked for grants: %v %v", gb.asked, err)
	}
}
