package bundle

import (
	"errors"

	"github.com/bottleplan/bottleplan/bundle/operatorwire"
)

// Pending items are what the agent waits on and only the operator
// decides: a request held for supervision (hold.go), an access request
// and a question the agent asked over MCP (mcp.go). They live in one
// bounded store (itemStore, store.go), each with a random 80-bit ID, and
// the operator API (operator.go) lists and decides them.

// The kinds of pending item (operatorwire.Kind).
const (
	// KindHeld is a request a supervise DLP rule holds open.
	KindHeld = operatorwire.KindHeld
	// KindAccess is the agent's request_access(host, reason): approved,
	// it adds a runtime grant (grants.go).
	KindAccess = operatorwire.KindAccess
	// KindQuestion is the agent's ask_operator(question): the operator
	// answers it with text.
	KindQuestion = operatorwire.KindQuestion
)

// The operator API's bodies, shared with the executor that reads them.
type (
	Kind            = operatorwire.Kind
	Item            = operatorwire.Item
	ItemList        = operatorwire.ItemList
	Grant           = operatorwire.Grant
	GrantList       = operatorwire.GrantList
	Revoked         = operatorwire.Revoked
	AnswerRequest   = operatorwire.AnswerRequest
	DecisionRequest = operatorwire.DecisionRequest
	OperatorError   = operatorwire.OperatorError
)

// ErrNoSuchItem is the answer to a decision on an ID that is not
// pending (never was, already decided, timed out or its agent hung up):
// 404 on the operator API.
var ErrNoSuchItem = errors.New("no pending item with that ID")

// ErrWrongKind is the answer to a verb that does not fit the item's
// kind (answer on a held request, approve on a question): 409.
var ErrWrongKind = errors.New("wrong verb for this kind of item")
