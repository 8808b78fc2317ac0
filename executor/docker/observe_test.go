package docker_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/google/go-cmp/cmp"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
)

// TestObserveFromListMatchesInspect checks that what Observe reads from
// the container list and LabelCAFingerprint (running containers) is what
// it reads by inspecting each container and its CA file, with a stopped
// agent among them (read by inspection either way).
func TestObserveFromListMatchesInspect(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t)})
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "alpha", "beta")
	if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stop := 0
	if err := eng.ContainerStop(ctx, p.Instances[1].Agent.ContainerName, container.StopOptions{Timeout: &stop}); err != nil {
		t.Fatal(err)
	}
	observe := func(byInspect bool) *executor.Observed {
		defer docker.SetObserveByInspect(byInspect)()
		obs, err := b.Observe(ctx, project)
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(obs.Resources, func(i, j int) bool { return obs.Resources[i].Name < obs.Resources[j].Name })
		return obs
	}
	var fromList, byInspect *executor.Observed
	// A container that was just stopped may still be listed as running
	// for a moment; wait for the Engine to settle.
	for deadline := time.Now().Add(10 * time.Second); ; {
		fromList, byInspect = observe(false), observe(true)
		if cmp.Equal(byInspect, fromList) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := cmp.Diff(byInspect, fromList); d != "" {
		t.Errorf("Observe from the list differs from inspecting (-inspect +list):\n%s", d)
	}
	states := map[string]string{}
	for _, r := range fromList.Resources {
		if !r.Role.IsNetwork() {
			states[r.Name] = r.State
			if r.CAFingerprint == "" {
				t.Errorf("%s: no CA fingerprint", r.Name)
			}
			if r.CADomains == nil {
				t.Errorf("%s: no CA name constraints observed", r.Name)
			}
		}
	}
	if len(states) != 4 || states[p.Instances[1].Agent.ContainerName] != "exited" || states[p.Instances[0].Agent.ContainerName] != "running" {
		t.Errorf("container states %v, want 4 containers, beta's agent exited", states)
	}
	c, err := eng.ContainerInspect(ctx, p.Instances[0].Bundle.ContainerName)
	if err != nil {
		t.Fatal(err)
	}
	if c.Config.Labels[docker.LabelCAFingerprint] == "" {
		t.Errorf("bundle lacks %s", docker.LabelCAFingerprint)
	}
}
