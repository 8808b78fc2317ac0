package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bottleplan/bottleplan/bundle/operatorwire"
	"github.com/bottleplan/bottleplan/plan"
)

// The operator API's pending items and grants (bundle/operatorwire).
type (
	// ItemKind is what a pending item asks of the operator.
	ItemKind = operatorwire.Kind
	// PendingItem is one item a supervised bundle waits on the operator
	// for. The bundle scrubs every string of secret values and bounds its
	// length; the text is still the agent's (a path, a reason, a
	// question), so whoever prints it must not trust it.
	PendingItem = operatorwire.Item
	// Grant is a runtime grant: a host the operator let the agent reach
	// by approving its access request.
	Grant = operatorwire.Grant
)

// The kinds of pending items.
const (
	ItemHeld     = operatorwire.KindHeld
	ItemAccess   = operatorwire.KindAccess
	ItemQuestion = operatorwire.KindQuestion
)

// Supervisor is implemented by backends that reach a supervised bundle's
// operator API (the Docker backend, through the Engine's exec API; the
// smolmachines hybrid, whose bundle is a Docker container). Every method
// acts on the bundle of one instance, which must have supervise on and a
// running bundle.
type Supervisor interface {
	// PendingItems lists the bundle's pending items, oldest first.
	PendingItems(ctx context.Context, in *plan.Instance) ([]PendingItem, error)
	// Decide approves or denies a held request or an access request.
	Decide(ctx context.Context, in *plan.Instance, id string, approve bool, reason string) error
	// Answer answers a question.
	Answer(ctx context.Context, in *plan.Instance, id, text string) error
	// Grants lists the bundle's live runtime grants.
	Grants(ctx context.Context, in *plan.Instance) ([]Grant, error)
	// RevokeGrants revokes every runtime grant of the bundle and says
	// how many there were.
	RevokeGrants(ctx context.Context, in *plan.Instance) (int, error)
}

// ErrOperator wraps an answer the operator API refused (an unknown ID,
// a wrong kind, a bad request), as opposed to a failure to reach it.
var ErrOperator = errors.New("operator API")

// observeGrants fills obs.Grants for the instances of p with supervise
// on whose bundle is running, one call to s each: an unsupervised plan
// asks nothing.
func observeGrants(ctx context.Context, s Supervisor, p *plan.Plan, obs *Observed) error {
	running := map[string]bool{}
	for _, r := range obs.Resources {
		if r.Role == RoleBundle && r.Running() {
			running[r.Instance] = true
		}
	}
	for i := range p.Instances {
		in := &p.Instances[i]
		if in.Bundle.Supervise == nil || !running[in.Slug] {
			continue
		}
		gs, err := s.Grants(ctx, in)
		if err != nil {
			return fmt.Errorf("instance %q: list runtime grants: %w", in.Slug, err)
		}
		if len(gs) == 0 {
			continue
		}
		if obs.Grants == nil {
			obs.Grants = map[string][]Grant{}
		}
		obs.Grants[in.Slug] = gs
	}
	return nil
}

// UnplannedGrants are the grants of gs the routes of in do not cover
// (a route with the grant's host, or a wildcard route over it, that
// lists the grant's port), in order.
func UnplannedGrants(in *plan.Instance, gs []Grant) []Grant {
	var out []Grant
	for _, g := range gs {
		if !routesCover(in.Bundle.Proxy.Routes, g) {
			out = append(out, g)
		}
	}
	return out
}

func routesCover(routes []plan.Route, g Grant) bool {
	host := strings.ToLower(strings.TrimSuffix(g.Host, "."))
	port := g.Port
	if port == 0 {
		port = 443
	}
	for _, r := range routes {
		rh := strings.ToLower(strings.TrimSuffix(r.Host, "."))
		match := rh == host
		if rest, ok := strings.CutPrefix(rh, "*."); ok {
			match = strings.HasSuffix(host, "."+rest)
		}
		if !match {
			continue
		}
		for _, p := range r.Ports {
			if p == port {
				return true
			}
		}
	}
	return false
}

// diffGrants returns the Revoke ops of in's live grants the plan does
// not name. The operator API revokes every grant at once, so one op per
// unplanned host is shown and Apply revokes them all (a grant the plan
// covers adds nothing to its route). A bundle that is replaced or
// deleted loses its grants with it: no op.
func diffGrants(in *plan.Instance, gs []Grant, ops []Op, bundle *Resource) []Op {
	if bundle == nil {
		return nil
	}
	for _, op := range ops {
		if op.Role == RoleBundle && op.Kind != Update {
			return nil
		}
	}
	var out []Op
	for _, g := range UnplannedGrants(in, gs) {
		out = append(out, Op{Kind: Revoke, Instance: in.Slug, Role: RoleBundle, Name: bundle.Name,
			Cause: fmt.Sprintf("revoke runtime grant %s: not in the plan's routes", g.Target()), Old: bundle, Grant: &g})
	}
	return out
}
