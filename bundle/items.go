package bundle

import (
	"errors"
	"time"
)

// Pending items are what the agent waits on and only the operator
// decides: a request held for supervision (hold.go), an access request
// and a question the agent asked over MCP (mcp.go). They live in one
// bounded store (itemStore, store.go), each with a random 80-bit ID, and
// the operator API (operator.go) lists and decides them.

// The kinds of pending item.
const (
	// KindHeld is a request a supervise DLP rule holds open.
	KindHeld = "held"
	// KindAccess is the agent's request_access(host, reason): approved,
	// it adds a runtime grant (grants.go).
	KindAccess = "access"
	// KindQuestion is the agent's ask_operator(question): the operator
	// answers it with text.
	KindQuestion = "question"
)

// Item is one pending item as the operator API lists it. Every string
// the agent chose is scrubbed of secret values ("[REDACTED]") and
// bounded in length before it is kept.
type Item struct {
	// ID names the item for approve, deny and answer: random, 80 bits,
	// base32 lower case.
	ID string `json:"id"`
	// Kind is KindHeld, KindAccess or KindQuestion.
	Kind string `json:"kind"`
	// Created is when the item began (UTC).
	Created time.Time `json:"created"`
	// Until is when it times out (supervise.hold_timeout after Created).
	Until time.Time `json:"until"`
	// Method and Path are those of a held request.
	Method string `json:"method,omitempty"`
	// Host is a held request's host, or the host[:port] an access
	// request asks for.
	Host string `json:"host,omitempty"`
	Path string `json:"path,omitempty"`
	// Reason is why a request was held (secrets by name only), or the
	// agent's reason for an access request.
	Reason string `json:"reason,omitempty"`
	// Question is the agent's question.
	Question string `json:"question,omitempty"`
	// BodyBytes is the size of a held request's body.
	BodyBytes int `json:"body_bytes,omitempty"`
}

// ItemList is the body of GET /items: every pending item, oldest first.
type ItemList struct {
	Items []Item `json:"items"`
}

// Grant is a runtime route an approved access request added: the host
// on that port, no auth (no token is injected), DLP block, every path
// and method, intercepted like any route; the SSRF dial rules still
// apply. It lasts until the bundle container goes or the operator
// revokes every grant (DELETE /grants).
type Grant struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	// ID is the access request's item ID.
	ID string `json:"id"`
	// Reason is the operator's reason for approving (scrubbed), or the
	// agent's when the operator gave none.
	Reason  string    `json:"reason,omitempty"`
	Granted time.Time `json:"granted"`
}

// GrantList is the body of GET /grants.
type GrantList struct {
	Grants []Grant `json:"grants"`
}

// Revoked is the body of DELETE /grants.
type Revoked struct {
	Revoked int `json:"revoked"`
}

// AnswerRequest is the body of POST /items/{id}/answer.
type AnswerRequest struct {
	Text string `json:"text"`
}

// DecisionRequest is the optional body of approve and deny.
type DecisionRequest struct {
	Reason string `json:"reason,omitempty"`
}

// OperatorError is the body of every error answer.
type OperatorError struct {
	Error string `json:"error"`
}

// ErrNoSuchItem is the answer to a decision on an ID that is not
// pending (never was, already decided, timed out or its agent hung up):
// 404 on the operator API.
var ErrNoSuchItem = errors.New("no pending item with that ID")

// ErrWrongKind is the answer to a verb that does not fit the item's
// kind (answer on a held request, approve on a question): 409.
var ErrWrongKind = errors.New("wrong verb for this kind of item")
