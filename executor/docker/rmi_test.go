package docker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
)

// TestRemoveImagesKeepsWhatAContainerUses: destroy --rmi's removal keeps
// a bottleplan-built image while any container (here one bottleplan does
// not own) runs it, saying which, removes it once none does, and refuses
// to touch an image bottleplan did not build.
func TestRemoveImagesKeepsWhatAContainerUses(t *testing.T) {
	eng := dockertest.Engine(t)
	ctx := context.Background()
	var rb [4]byte
	rand.Read(rb[:])
	ref := docker.AgentImageRepo + ":rmi-test-" + hex.EncodeToString(rb[:])
	dockertest.CleanupImage(t, eng, ref)
	buildOnTop(t, eng, dockertest.AgentImage(t, eng), ref)
	name := "bpt-rmi-user-" + hex.EncodeToString(rb[:])
	c, err := eng.ContainerCreate(ctx, &container.Config{Image: ref}, nil, nil, nil, name)
	if err != nil {
		t.Fatal(err)
	}
	removeUser := func() { eng.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}) }
	t.Cleanup(removeUser)

	b := docker.New(eng, docker.Options{})
	got, err := b.RemoveImages(ctx, []string{ref})
	if err != nil || len(got) != 1 || got[0].Removed || !strings.Contains(got[0].Why, "used by "+name) {
		t.Fatalf("RemoveImages with a user = %+v, %v; want kept, used by %s", got, err, name)
	}
	removeUser()
	got, err = b.RemoveImages(ctx, []string{ref})
	if err != nil || len(got) != 1 || !got[0].Removed {
		t.Fatalf("RemoveImages without users = %+v, %v; want removed", got, err)
	}
	if _, err := eng.ImageInspect(ctx, ref); err == nil {
		t.Errorf("%s is still there", ref)
	}
	if _, err := b.RemoveImages(ctx, []string{dockertest.AgentImage(t, eng)}); err == nil || !strings.Contains(err.Error(), "not built by bottleplan") {
		t.Errorf("RemoveImages of a test image: %v, want a refusal", err)
	}
	var _ executor.ImageCleaner = b
}
