package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// The executor.Supervisor methods: each is one BundleCtl exec of
// `bottleplan-bundle ctl` in the instance's bundle container. Flags go
// first and "--" ends them, so an ID or an answer that starts with "-"
// stays an argument.

var _ executor.Supervisor = (*Backend)(nil)

// PendingItems lists the bundle's pending items (ctl list).
func (b *Backend) PendingItems(ctx context.Context, in *plan.Instance) ([]executor.PendingItem, error) {
	var v struct {
		Items []executor.PendingItem `json:"items"`
	}
	if err := b.ctlJSON(ctx, in, &v, "--", "list"); err != nil {
		return nil, err
	}
	return v.Items, nil
}

// Decide approves or denies a held request or an access request (ctl
// approve|deny ID [--reason R]).
func (b *Backend) Decide(ctx context.Context, in *plan.Instance, id string, approve bool, reason string) error {
	verb := "deny"
	if approve {
		verb = "approve"
	}
	var args []string
	if reason != "" {
		args = append(args, "--reason", reason)
	}
	_, err := b.BundleCtl(ctx, in, append(args, "--", verb, id)...)
	return err
}

// Answer answers a question (ctl answer ID TEXT).
func (b *Backend) Answer(ctx context.Context, in *plan.Instance, id, text string) error {
	_, err := b.BundleCtl(ctx, in, "--", "answer", id, text)
	return err
}

// olderCtl is how a bottleplan-bundle from before runtime grants
// refuses the grants verb; such a bundle holds no grants.
const olderCtl = "want list, approve ID or deny ID"

// Grants lists the bundle's runtime grants (ctl grants).
func (b *Backend) Grants(ctx context.Context, in *plan.Instance) ([]executor.Grant, error) {
	var v struct {
		Grants []executor.Grant `json:"grants"`
	}
	if err := b.ctlJSON(ctx, in, &v, "--", "grants"); err != nil {
		if strings.Contains(err.Error(), olderCtl) {
			return nil, nil
		}
		return nil, err
	}
	return v.Grants, nil
}

// RevokeGrants revokes every runtime grant of the bundle (ctl
// revoke-grants).
func (b *Backend) RevokeGrants(ctx context.Context, in *plan.Instance) (int, error) {
	var v struct {
		Revoked int `json:"revoked"`
	}
	if err := b.ctlJSON(ctx, in, &v, "--", "revoke-grants"); err != nil {
		return 0, err
	}
	return v.Revoked, nil
}

// ctlJSON runs the ctl and decodes its JSON answer into v.
func (b *Backend) ctlJSON(ctx context.Context, in *plan.Instance, v any, args ...string) error {
	out, err := b.BundleCtl(ctx, in, args...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("instance %q: the operator API's answer to %s is not JSON: %w", in.Slug, args[len(args)-1], err)
	}
	return nil
}
