package smolvm

import (
	"context"
	"errors"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// A smolmachines instance's bundle is a Docker container, so the
// operator API is reached the Docker way: Hybrid passes every
// executor.Supervisor call to its Docker backend.

var _ executor.Supervisor = (*Hybrid)(nil)

// errNoSupervisor: the Docker side cannot reach operator APIs (a test
// double).
var errNoSupervisor = errors.New("the Docker backend cannot reach the bundle's operator API")

func (h *Hybrid) supervisor() (executor.Supervisor, error) {
	if s, ok := h.Docker.(executor.Supervisor); ok {
		return s, nil
	}
	return nil, errNoSupervisor
}

// PendingItems lists the bundle's pending items.
func (h *Hybrid) PendingItems(ctx context.Context, in *plan.Instance) ([]executor.PendingItem, error) {
	s, err := h.supervisor()
	if err != nil {
		return nil, err
	}
	return s.PendingItems(ctx, in)
}

// Decide approves or denies a held request or an access request.
func (h *Hybrid) Decide(ctx context.Context, in *plan.Instance, id string, approve bool, reason string) error {
	s, err := h.supervisor()
	if err != nil {
		return err
	}
	return s.Decide(ctx, in, id, approve, reason)
}

// Answer answers a question.
func (h *Hybrid) Answer(ctx context.Context, in *plan.Instance, id, text string) error {
	s, err := h.supervisor()
	if err != nil {
		return err
	}
	return s.Answer(ctx, in, id, text)
}

// Grants lists the bundle's runtime grants.
func (h *Hybrid) Grants(ctx context.Context, in *plan.Instance) ([]executor.Grant, error) {
	s, err := h.supervisor()
	if err != nil {
		return nil, err
	}
	return s.Grants(ctx, in)
}

// RevokeGrants revokes every runtime grant of the bundle.
func (h *Hybrid) RevokeGrants(ctx context.Context, in *plan.Instance) (int, error) {
	s, err := h.supervisor()
	if err != nil {
		return 0, err
	}
	return s.RevokeGrants(ctx, in)
}
