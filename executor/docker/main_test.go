package docker_test

import (
	"context"
	"os"
	"testing"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

func TestMain(m *testing.M) { os.Exit(dockertest.Main(m)) }

// converge observes, diffs and applies p, and returns the changes it
// applied.
func converge(t *testing.T, b *docker.Backend, p *plan.Plan, prune bool, opts executor.ApplyOptions) (*executor.Changes, error) {
	t.Helper()
	return convergeWith(t, b, p, executor.DiffOptions{Prune: prune}, opts)
}

// convergeWith is converge with any DiffOptions.
func convergeWith(t *testing.T, b *docker.Backend, p *plan.Plan, dopts executor.DiffOptions, opts executor.ApplyOptions) (*executor.Changes, error) {
	t.Helper()
	ctx := context.Background()
	obs, err := executor.ObservePlan(ctx, b, p)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := executor.Diff(p, obs, dopts)
	if err != nil {
		t.Fatal(err)
	}
	return ch, executor.Apply(ctx, b, p, ch, opts)
}

// pending returns the ops a fresh Diff still wants.
func pending(t *testing.T, b *docker.Backend, p *plan.Plan) []string {
	t.Helper()
	obs, err := executor.ObservePlan(context.Background(), b, p)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := executor.Diff(p, obs, executor.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, op := range ch.Ops() {
		ops = append(ops, op.String())
	}
	return ops
}

// destroy removes everything the project owns through the executor.
func destroy(t *testing.T, b *docker.Backend, p *plan.Plan) {
	t.Helper()
	ctx := context.Background()
	obs, err := b.Observe(ctx, p.Project)
	if err != nil {
		t.Fatal(err)
	}
	if err := executor.Apply(ctx, b, p, executor.DiffDestroy(obs, ""), executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
}
