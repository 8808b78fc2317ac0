package bundle

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// itemStore holds the pending items (items.go) of every kind: one map,
// one lock, one ID space, so an ID names exactly one item and the
// operator API finds it whatever its kind. Each kind has its own count
// bound (a flood of questions cannot crowd out held requests, nor the
// reverse); held requests also bound their bodies' bytes. An item past a
// bound is refused at once, never queued.
//
// An item ends once: decided by the operator (decide), timed out, or
// its agent gone (the held request's client, the MCP call) — whoever
// takes it out of the map first, so an answer that races the timeout is
// never lost nor applied twice.
type itemStore struct {
	timeout time.Duration
	now     func() time.Time

	mu      sync.Mutex
	pending map[string]*pendingItem
	count   map[string]int // by bound class (boundClass)
	bytes   int64          // held bodies
}

// pendingItem is one item and the channel its decision comes on.
type pendingItem struct {
	item   Item
	bytes  int64
	answer chan operatorAnswer // buffered 1; sent once, under itemStore.mu
}

// operatorAnswer is the operator's decision on one item: approve or
// deny (held, access) with a reason, or an answer's text (question).
type operatorAnswer struct {
	approve bool
	text    string
}

// outcome is how an item ended.
type outcome int

const (
	outcomeApproved outcome = iota
	outcomeDenied
	outcomeAnswered
	outcomeTimedOut
	outcomeGone
)

func newItemStore(timeout time.Duration) *itemStore {
	if timeout <= 0 {
		timeout = DefaultHoldTimeout
	}
	return &itemStore{timeout: timeout, now: time.Now, pending: map[string]*pendingItem{}, count: map[string]int{}}
}

// boundClass is the bound an item of kind counts against: held
// requests have their own; access requests and questions (the agent's
// asks) share maxAgentAsks.
func boundClass(kind Kind) (string, int) {
	if kind == KindHeld {
		return string(KindHeld), maxHeldRequests
	}
	return "ask", maxAgentAsks
}

// errStoreFull is the refusal of an item past its kind's bound.
func errStoreFull(kind Kind) error {
	if kind == KindHeld {
		return fmt.Errorf("too many requests held for supervision (at most %d, their bodies %d MiB); retry once the operator has answered", maxHeldRequests, maxHeldBodies>>20)
	}
	return fmt.Errorf("too many access requests and questions waiting for the operator (at most %d); retry once the operator has answered one", maxAgentAsks)
}

// add stores it (ID, Created and Until filled here; every string already
// scrubbed and bounded) with a body of n bytes, or refuses it when a
// bound would be passed.
func (s *itemStore) add(it Item, n int) (*pendingItem, error) {
	id, err := newItemID()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	it.ID, it.Created, it.Until = id, now, now.Add(s.timeout)
	p := &pendingItem{item: it, bytes: int64(n), answer: make(chan operatorAnswer, 1)}
	s.mu.Lock()
	defer s.mu.Unlock()
	class, bound := boundClass(it.Kind)
	if s.count[class] >= bound || s.bytes+p.bytes > maxHeldBodies {
		return nil, errStoreFull(it.Kind)
	}
	s.pending[id] = p
	s.count[class]++
	s.bytes += p.bytes
	return p, nil
}

// newItemID is a random, unguessable ID (80 bits, base32 lower case).
func newItemID() (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("item ID: %w", err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])), nil
}

// take removes id from the pending set and reports whether it was
// there; the caller holds s.mu.
func (s *itemStore) take(id string) (*pendingItem, bool) {
	p, ok := s.pending[id]
	if ok {
		delete(s.pending, id)
		class, _ := boundClass(p.item.Kind)
		s.count[class]--
		s.bytes -= p.bytes
	}
	return p, ok
}

// verbFits reports whether verb ("approve", "deny", "answer") applies to
// kind, and otherwise which verbs do.
func verbFits(kind Kind, verb string) (string, bool) {
	if kind == KindQuestion {
		return "answer", verb == "answer"
	}
	return "approve or deny", verb == "approve" || verb == "deny"
}

// decide gives the operator's verb on id. ok, when not nil, runs under
// the store's lock with the item before it is answered (a grant is made
// there, so it exists before the agent hears "approved"); its error
// leaves the item pending. Only the operator API calls it.
func (s *itemStore) decide(id, verb, text string, ok func(Item) error) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, found := s.pending[id]
	if !found {
		return Item{}, ErrNoSuchItem
	}
	if fits, good := verbFits(p.item.Kind, verb); !good {
		return Item{}, fmt.Errorf("%w: %s is a %s item; use %s", ErrWrongKind, id, p.item.Kind, fits)
	}
	if ok != nil {
		if err := ok(p.item); err != nil {
			return Item{}, err
		}
	}
	s.take(id)
	p.answer <- operatorAnswer{approve: verb == "approve", text: text}
	return p.item, nil
}

// wait blocks until p is decided, times out, or ctx (the agent's
// request) ends.
func (s *itemStore) wait(ctx context.Context, p *pendingItem) (outcome, string) {
	t := time.NewTimer(p.item.Until.Sub(s.now()))
	defer t.Stop()
	var how outcome
	select {
	case a := <-p.answer:
		return answerOutcome(p.item.Kind, a)
	case <-t.C:
		how = outcomeTimedOut
	case <-ctx.Done():
		how = outcomeGone
	}
	s.mu.Lock()
	_, mine := s.take(p.item.ID)
	s.mu.Unlock()
	if !mine {
		return answerOutcome(p.item.Kind, <-p.answer)
	}
	return how, ""
}

func answerOutcome(kind Kind, a operatorAnswer) (outcome, string) {
	switch {
	case kind == KindQuestion:
		return outcomeAnswered, a.text
	case a.approve:
		return outcomeApproved, a.text
	}
	return outcomeDenied, a.text
}

// list returns the pending items of the kinds given (every kind when
// none), oldest first.
func (s *itemStore) list(kinds ...Kind) []Item {
	s.mu.Lock()
	out := make([]Item, 0, len(s.pending))
	for _, p := range s.pending {
		if len(kinds) == 0 || slices.Contains(kinds, p.item.Kind) {
			out = append(out, p.item)
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}
