package operatorwire

import (
	"strconv"
	"time"
)

// Kind is what a pending item asks of the operator.
type Kind string

// The kinds of pending items a supervised bundle holds (the operator
// API's "kind" values).
const (
	// KindHeld is a request a supervise DLP rule holds open: approve
	// forwards it (token injected as usual), deny refuses it.
	KindHeld Kind = "held"
	// KindAccess is the agent's request_access(host, reason): approve
	// adds a runtime grant for the host, deny refuses it.
	KindAccess Kind = "access"
	// KindQuestion is the agent's ask_operator(question): answer it.
	KindQuestion Kind = "question"
)

// Noun is the kind in the operator's words ("held request", ...).
func (k Kind) Noun() string {
	switch k {
	case KindHeld:
		return "held request"
	case KindAccess:
		return "access request"
	case KindQuestion:
		return "question"
	}
	return string(k)
}

// WithArticle is the noun with its indefinite article ("an access
// request").
func (k Kind) WithArticle() string {
	if k == KindAccess {
		return "an " + k.Noun()
	}
	return "a " + k.Noun()
}

// Verbs says which commands decide an item of kind k.
func (k Kind) Verbs() string {
	if k == KindQuestion {
		return "answer"
	}
	return "approve or deny"
}

// Item is one pending item as the operator API lists it. Every string
// the agent chose is scrubbed of secret values ("[REDACTED]") and
// bounded in length before it is kept.
type Item struct {
	// ID names the item for approve, deny and answer: random, 80 bits,
	// base32 lower case.
	ID string `json:"id"`
	// Kind is KindHeld, KindAccess or KindQuestion.
	Kind Kind `json:"kind"`
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

// Target is the grant's host, with ":port" unless the port is 443.
func (g Grant) Target() string {
	if g.Port == 0 || g.Port == 443 {
		return g.Host
	}
	return g.Host + ":" + strconv.Itoa(g.Port)
}
