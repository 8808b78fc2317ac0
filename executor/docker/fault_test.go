package docker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

var errKilled = errors.New("killed by the test")

// killAfter returns an OnStep hook that stops the apply, as a SIGKILL
// would (nothing is rolled back), right after step n; it counts steps
// in *seen.
func killAfter(n int, seen *int) func(executor.Event) error {
	return func(executor.Event) error {
		*seen++
		if *seen == n {
			return errKilled
		}
		return nil
	}
}

// TestFaultsConverge stops an apply after each step in turn, of a fresh
// create and of a bundle replacement, then applies again and checks that
// live state converges (no ops left, agent trusts its bundle's CA) and
// that destroy leaves nothing behind.
func TestFaultsConverge(t *testing.T) {
	eng := dockertest.Engine(t)
	bin := dockertest.BundleBinary(t)
	image := dockertest.AgentImage(t, eng)

	scenarios := map[string]struct {
		setup  func(t *testing.T, b *docker.Backend, p *plan.Plan) // before the killed apply
		change func(p *plan.Plan)
		steps  int
	}{
		"create": {steps: 9},
		"replace bundle": {
			setup: func(t *testing.T, b *docker.Backend, p *plan.Plan) {
				if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			change: func(p *plan.Plan) { p.Instances[0].ConfigHash.Bundle = "sha256:bundle-2" },
			steps:  5, // removed, created, connected, configured, started
		},
	}
	for name, sc := range scenarios {
		for n := 1; n <= sc.steps; n++ {
			t.Run(fmt.Sprintf("%s/kill after step %d", name, n), func(t *testing.T) {
				project := dockertest.Project(t, eng)
				b := docker.New(eng, docker.Options{BundleBinary: bin})
				p := dockertest.Plan(project, image, "solo")
				if sc.setup != nil {
					sc.setup(t, b, p)
				}
				if sc.change != nil {
					sc.change(p)
				}
				seen := 0
				if _, err := converge(t, b, p, false, executor.ApplyOptions{OnStep: killAfter(n, &seen)}); !errors.Is(err, errKilled) {
					t.Fatalf("killed apply: error %v after %d steps, want the kill at step %d", err, seen, n)
				}
				// A fresh backend: the rerun is a new process.
				b = docker.New(eng, docker.Options{BundleBinary: bin})
				if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
					t.Fatalf("rerun: %v", err)
				}
				if ops := pending(t, b, p); len(ops) != 0 {
					t.Fatalf("not converged after the rerun: %v", ops)
				}
				checkInstance(t, eng, project, p.Instances[0])
				destroy(t, b, p)
				if left := dockertest.Owned(t, eng, project); len(left) != 0 {
					t.Fatalf("destroy left %v", left)
				}
			})
		}
	}
}

// TestFaultCountsSteps pins the step counts the fault test relies on: if
// the backend gains a step, the fault test must cover it.
func TestFaultCountsSteps(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t)})
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "solo")
	var steps []string
	record := func(ev executor.Event) error {
		steps = append(steps, string(ev.Role)+" "+ev.Step)
		return nil
	}
	if _, err := converge(t, b, p, false, executor.ApplyOptions{OnStep: record}); err != nil {
		t.Fatal(err)
	}
	if len(steps) != 9 {
		t.Errorf("create took %d steps %v, the fault test covers 9", len(steps), steps)
	}
	steps = nil
	p.Instances[0].ConfigHash.Bundle = "sha256:bundle-2"
	if _, err := converge(t, b, p, false, executor.ApplyOptions{OnStep: record}); err != nil {
		t.Fatal(err)
	}
	if len(steps) != 5 {
		t.Errorf("bundle replace took %d steps %v, the fault test covers 5", len(steps), steps)
	}
}

// TestDestroyKilledHalfWay: a destroy stopped after any removal leaves
// the rest for the next destroy, which removes everything.
func TestDestroyKilledHalfWay(t *testing.T) {
	eng := dockertest.Engine(t)
	bin := dockertest.BundleBinary(t)
	image := dockertest.AgentImage(t, eng)
	for n := 1; n < 4; n++ {
		t.Run(fmt.Sprintf("kill after removal %d", n), func(t *testing.T) {
			project := dockertest.Project(t, eng)
			b := docker.New(eng, docker.Options{BundleBinary: bin})
			p := dockertest.Plan(project, image, "solo")
			if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			obs, err := b.Observe(context.Background(), project)
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			err = executor.Apply(context.Background(), b, p, executor.DiffDestroy(obs, ""), executor.ApplyOptions{OnStep: killAfter(n, &seen)})
			if !errors.Is(err, errKilled) {
				t.Fatalf("killed destroy: %v", err)
			}
			if left := dockertest.Owned(t, eng, project); len(left) != 4-n {
				t.Fatalf("after %d removals %d resources left: %v", n, len(left), left)
			}
			destroy(t, b, p)
			if left := dockertest.Owned(t, eng, project); len(left) != 0 {
				t.Fatalf("second destroy left %v", left)
			}
		})
	}
}
