package bundle

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

// Held means held: a request that a "supervise" DLP action catches (a
// path or method the route's matches do not allow, a secret's value in
// it) is held open, not answered, until the operator approves it (it is
// forwarded as usual, token injected), denies it (403 "blocked: denied
// by operator: <reason>"), or the hold timeout passes (403 "blocked: not
// approved within <d>"). The operator decides only through the operator
// API on the bundle's unix socket (operator.go); nothing the agent can
// reach decides.
//
// A held request has given back its inspection slot (body.go) before it
// waits, so held requests never starve other uploads of inspection; its
// body (already read and scanned) stays in memory, and only there, until
// it is answered. At most maxHeldRequests are held at once, their bodies
// together at most maxHeldBodies bytes; a request that would pass either
// is refused at once, never queued. An agent that hangs up on a held
// request ends the hold: the request stays only as log lines (the hold,
// then "client hung up").

// DefaultHoldTimeout is how long a request is held when the plan names
// no hold timeout (a plan older than supervise.hold_timeout).
const DefaultHoldTimeout = plan.OlderPlanHoldTimeout

// holdRequest holds r (its body of n bytes already read) for the
// operator, and reports true when the operator approved it; otherwise
// it has answered the agent (or the agent hung up) and recorded why. d
// is the request's decision so far; reason is what the supervise rule
// caught.
func (p *Proxy) holdRequest(w http.ResponseWriter, r *http.Request, d *Decision, reason string, n int) bool {
	hd := *d
	hd.Verdict, hd.Reason = VerdictHold, "held for supervision: "+reason
	hd.Daemon, hd.Instance = "proxy", p.rec.instance
	p.rec.clean(&hd)
	h, err := p.holds.add(Item{Kind: KindHeld, Method: hd.Method, Host: hd.Host, Path: hd.Path, Reason: hd.Reason, BodyBytes: n}, n)
	if err != nil {
		p.deny(w, *d, VerdictDeny, err.Error())
		return false
	}
	d.ID, hd.ID = h.item.ID, h.item.ID
	p.record(hd)
	stop := keepTunnel(r.Context())
	how, why := p.holds.wait(r.Context(), h)
	stop()
	// The operator's reason goes to the agent: it is scrubbed and capped
	// like every logged field.
	why = capField(p.secrets.scrub(why))
	switch how {
	case outcomeApproved:
		d.Reason = "approved by operator"
		if why != "" {
			d.Reason += ": " + why
		}
		return true
	case outcomeDenied:
		if why == "" {
			why = "no reason given"
		}
		p.deny(w, *d, VerdictDeny, "denied by operator: "+why)
	case outcomeTimedOut:
		p.deny(w, *d, VerdictDeny, fmt.Sprintf("not approved within %s", p.holds.timeout))
	case outcomeGone:
		// Answered too, in case the connection still carries it: a
		// handler that wrote nothing would answer 200.
		p.deny(w, *d, VerdictDeny, "client hung up while held for supervision")
	}
	return false
}

// tunnelKey is the request context key of the idle tunnel an
// intercepted request came through.
type tunnelKey struct{}

// keepTunnel keeps the tunnel of an intercepted request in use while it
// is held: a hold may last up to 24h, longer than TunnelIdle, and a
// tunnel closed for idleness would end it as if the agent had hung up.
// The returned func stops it.
func keepTunnel(ctx context.Context) func() {
	tun, ok := ctx.Value(tunnelKey{}).(*idleTunnel)
	if !ok || tun == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(tun.idle / 2)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				tun.touch()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

// Pending lists the pending items of every kind, oldest first.
func (p *Proxy) Pending() []Item { return p.holds.list() }

// Decide applies the operator's verb ("approve", "deny" or "answer") to
// the pending item id; text is the reason (approve, deny) or the answer,
// told to the agent scrubbed. Approving an access request grants its
// host (grants.go) before the agent hears of it. It returns
// ErrNoSuchItem when id is not pending and ErrWrongKind when the verb
// does not fit the item. Only the operator API (operator.go), on the
// bundle's unix socket, calls it.
func (p *Proxy) Decide(id, verb, text string) (Item, error) {
	return p.holds.decide(id, verb, text, func(it Item) error {
		if it.Kind == KindAccess && verb == "approve" {
			return p.grant(it, text)
		}
		return nil
	})
}
