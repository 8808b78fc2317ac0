package docker_test

import (
	"context"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/network"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
)

// TestForeignSubnetOverlap: a pinned subnet inside a network bottleplan
// does not own stops apply before anything is created, naming that
// network.
func TestForeignSubnetOverlap(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	p := dockertest.Plan(project, "unused", "one")
	foreign := project + "-foreign"
	resp, err := eng.NetworkCreate(context.Background(), foreign, network.CreateOptions{
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: p.AddressPool}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.NetworkRemove(context.Background(), resp.ID) })

	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t)})
	obs, err := b.Observe(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	_, err = executor.Diff(p, obs, executor.DiffOptions{})
	if err == nil || !strings.Contains(err.Error(), `overlaps network "`+foreign+`"`) {
		t.Fatalf("error = %v, want the overlap with %s named", err, foreign)
	}
	if left := dockertest.Owned(t, eng, project); len(left) != 0 {
		t.Errorf("resources exist: %v", left)
	}
}

// TestForeignNameTaken: a network bottleplan does not own holding a
// planned name is reported with what to do, and left alone.
func TestForeignNameTaken(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "one")
	resp, err := eng.NetworkCreate(context.Background(), p.Instances[0].Network.EgressName, network.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.NetworkRemove(context.Background(), resp.ID) })

	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t)})
	_, err = converge(t, b, p, false, executor.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "a network bottleplan does not own may hold the name") {
		t.Fatalf("error = %v, want the name conflict explained", err)
	}
	if _, err := eng.NetworkInspect(context.Background(), resp.ID, network.InspectOptions{}); err != nil {
		t.Errorf("the foreign network was touched: %v", err)
	}
}
