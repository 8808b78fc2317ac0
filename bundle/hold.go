package bundle

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
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

// PendingRequest is a request held open for the operator, as the
// operator API lists it: scrubbed like every decision.
type PendingRequest struct {
	// ID names the hold for approve and deny: random, 80 bits.
	ID string `json:"id"`
	// Since is when the hold began.
	Since time.Time `json:"since"`
	// Until is when the hold times out.
	Until    time.Time `json:"until"`
	Instance string    `json:"instance"`
	Method   string    `json:"method"`
	Host     string    `json:"host"`
	Path     string    `json:"path"`
	// Reason says what the supervise rule caught, secrets by name only.
	Reason string `json:"reason"`
	// BodyBytes is the size of the held body.
	BodyBytes int `json:"body_bytes"`
}

// ErrNoSuchHold is the answer to a decision on an ID that is not
// pending (never was, already decided, timed out or hung up).
var ErrNoSuchHold = errors.New("no pending held request with that ID")

// holdOutcome is how a hold ended.
type holdOutcome int

const (
	holdApproved holdOutcome = iota
	holdDenied
	holdTimedOut
	holdHungUp
)

// operatorAnswer is the operator's decision on one hold.
type operatorAnswer struct {
	approve bool
	reason  string
}

// hold is one held request.
type hold struct {
	pending PendingRequest
	bytes   int64
	answer  chan operatorAnswer // buffered 1; sent once, under holds.mu
}

// holds are the requests held open now.
type holds struct {
	timeout time.Duration
	now     func() time.Time

	mu      sync.Mutex
	pending map[string]*hold
	bytes   int64
}

func newHolds(timeout time.Duration) *holds {
	if timeout <= 0 {
		timeout = DefaultHoldTimeout
	}
	return &holds{timeout: timeout, now: time.Now, pending: map[string]*hold{}}
}

// errHoldsFull is the refusal when the hold would pass a bound.
var errHoldsFull = fmt.Errorf("too many requests held for supervision (at most %d, their bodies %d MiB); retry once the operator has answered", maxHeldRequests, maxHeldBodies>>20)

// add holds one request described by d (already scrubbed) with a body of
// n bytes, or refuses it when a bound would be passed.
func (q *holds) add(d Decision, n int) (*hold, error) {
	id, err := holdID()
	if err != nil {
		return nil, err
	}
	now := q.now().UTC()
	h := &hold{
		pending: PendingRequest{
			ID: id, Since: now, Until: now.Add(q.timeout), Instance: d.Instance,
			Method: d.Method, Host: d.Host, Path: d.Path, Reason: d.Reason, BodyBytes: n,
		},
		bytes:  int64(n),
		answer: make(chan operatorAnswer, 1),
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) >= maxHeldRequests || q.bytes+h.bytes > maxHeldBodies {
		return nil, errHoldsFull
	}
	q.pending[id] = h
	q.bytes += h.bytes
	return h, nil
}

// holdID is a random, unguessable ID (80 bits, base32 lower case).
func holdID() (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("hold ID: %w", err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])), nil
}

// take removes id from the pending set and reports whether it was there;
// the caller holds q.mu.
func (q *holds) take(id string) (*hold, bool) {
	h, ok := q.pending[id]
	if ok {
		delete(q.pending, id)
		q.bytes -= h.bytes
	}
	return h, ok
}

// decide answers the hold id. Only the operator API calls it.
func (q *holds) decide(id string, approve bool, reason string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	h, ok := q.take(id)
	if !ok {
		return ErrNoSuchHold
	}
	h.answer <- operatorAnswer{approve: approve, reason: reason}
	return nil
}

// wait blocks until h is decided, times out, or ctx (the agent's
// request) ends. Whoever takes h out of the pending set first decides,
// so an answer that races the timeout is never lost nor applied twice.
func (q *holds) wait(ctx context.Context, h *hold) (holdOutcome, string) {
	t := time.NewTimer(h.pending.Until.Sub(q.now()))
	defer t.Stop()
	var how holdOutcome
	select {
	case a := <-h.answer:
		return answerOutcome(a)
	case <-t.C:
		how = holdTimedOut
	case <-ctx.Done():
		how = holdHungUp
	}
	q.mu.Lock()
	_, mine := q.take(h.pending.ID)
	q.mu.Unlock()
	if !mine {
		return answerOutcome(<-h.answer)
	}
	return how, ""
}

func answerOutcome(a operatorAnswer) (holdOutcome, string) {
	if a.approve {
		return holdApproved, a.reason
	}
	return holdDenied, a.reason
}

// list returns the pending holds, oldest first.
func (q *holds) list() []PendingRequest {
	q.mu.Lock()
	out := make([]PendingRequest, 0, len(q.pending))
	for _, h := range q.pending {
		out = append(out, h.pending)
	}
	q.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

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
	h, err := p.holds.add(hd, n)
	if err != nil {
		p.deny(w, *d, VerdictDeny, err.Error())
		return false
	}
	d.ID, hd.ID = h.pending.ID, h.pending.ID
	p.record(hd)
	stop := keepTunnel(r.Context())
	how, why := p.holds.wait(r.Context(), h)
	stop()
	// The operator's reason goes to the agent: it is scrubbed and capped
	// like every logged field.
	why = capField(p.secrets.scrub(why))
	switch how {
	case holdApproved:
		d.Reason = "approved by operator"
		if why != "" {
			d.Reason += ": " + why
		}
		return true
	case holdDenied:
		if why == "" {
			why = "no reason given"
		}
		p.deny(w, *d, VerdictDeny, "denied by operator: "+why)
	case holdTimedOut:
		p.deny(w, *d, VerdictDeny, fmt.Sprintf("not approved within %s", p.holds.timeout))
	case holdHungUp:
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

// Pending lists the requests held open now, oldest first.
func (p *Proxy) Pending() []PendingRequest { return p.holds.list() }

// Decide approves or denies the held request id; reason goes to the
// agent with a denial. It returns ErrNoSuchHold when id is not pending.
// Only the operator API (operator.go), on the bundle's unix socket,
// calls it.
func (p *Proxy) Decide(id string, approve bool, reason string) error {
	return p.holds.decide(id, approve, reason)
}
