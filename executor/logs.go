package executor

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

// LogReader is implemented by backends that keep what an instance's
// containers wrote (the Docker backend, and the hybrid for its bundles).
// `bottleplan logs` reads through it, so the CLI never talks to an Engine
// itself. It reads only.
type LogReader interface {
	// Logs copies what the req.Role container of req.Instance wrote to
	// stdout and stderr, demultiplexed, as the backend kept it (the Docker
	// Engine keeps it with log rotation, so the oldest lines may be gone).
	// Without req.Follow it returns once it has copied everything written
	// so far; with it, it keeps copying until ctx is done (returning
	// ctx's error) or the container stops. A container that is not there
	// is an error wrapping ErrNotApplied; one the backend cannot read yet
	// (a smolvm machine) an error wrapping ErrLogsUnsupported.
	Logs(ctx context.Context, req LogRequest, stdout, stderr io.Writer) error
}

// LogRequest says whose output Logs reads.
type LogRequest struct {
	// Project is the plan's project: only a container labelled with it,
	// and with Instance's slug and Role, is read.
	Project string
	// Instance is the planned instance; its container names come from it.
	Instance *plan.Instance
	// Role is RoleBundle (the decision log is the bundle's stdout) or
	// RoleAgent.
	Role Role
	// Since, when not zero, leaves out what was written before it.
	Since time.Time
	// Follow keeps reading what is written after the call.
	Follow bool
}

// ErrNotApplied is wrapped by errors about an instance resource that is
// not live: the plan was not applied, or was destroyed.
var ErrNotApplied = errors.New("not applied")

// ErrLogsUnsupported is wrapped by a LogReader's error for a resource
// whose output it cannot read yet.
var ErrLogsUnsupported = errors.New("logs not supported")
