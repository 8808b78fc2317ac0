package executor

import (
	"context"
	"errors"
	"io"

	"github.com/bottleplan/bottleplan/plan"
)

// Session is implemented by backends whose agents an operator can work
// with: attach to the agent's main process, or run a command beside it.
// `bottleplan attach` and `bottleplan exec` go through it, so the CLI
// never talks to an Engine itself. Both act only on an agent labelled
// with the request's project and instance.
type Session interface {
	// Attach connects req.IO to the main process of req.Instance's
	// agent, which runs with a terminal (plan.Agent.Terminal), until the
	// process ends (its exit code, nil error) or the operator types
	// req.DetachKeys (ErrDetached; the agent keeps running). An agent
	// that is not running, or was made without a terminal, is an error
	// saying what to do.
	Attach(ctx context.Context, req AttachRequest) (int, error)
	// Exec runs req.Cmd in req.Instance's running agent and returns its
	// exit code.
	Exec(ctx context.Context, req ExecRequest) (int, error)
}

// TermIO is the operator's side of a session.
type TermIO struct {
	// In is read until it ends or the session does; nil sends nothing.
	In io.Reader
	// Out receives the process's output (all of it with a terminal);
	// Err its stderr when there is no terminal.
	Out, Err io.Writer
	// Resize, when set, gives the operator's terminal size: the first
	// value as soon as the session starts, then each change.
	Resize <-chan TermSize
}

// TermSize is a terminal's size in characters.
type TermSize struct{ Rows, Cols uint }

// AttachRequest says whose agent Attach joins.
type AttachRequest struct {
	Project  string
	Instance *plan.Instance
	// DetachKeys is the key sequence that detaches (Docker's form,
	// "ctrl-p,ctrl-q"); "" for the backend's default.
	DetachKeys string
	IO         TermIO
}

// ExecRequest is a command to run in an agent.
type ExecRequest struct {
	Project  string
	Instance *plan.Instance
	Cmd      []string
	// TTY runs the command with a terminal (when the operator's stdin is
	// one): output is one stream and Resize applies.
	TTY bool
	IO  TermIO
}

// ErrDetached is Attach's error when the operator detached: the agent
// keeps running.
var ErrDetached = errors.New("detached")

// DefaultDetachKeys are Docker's: ctrl-p then ctrl-q.
const DefaultDetachKeys = "ctrl-p,ctrl-q"
