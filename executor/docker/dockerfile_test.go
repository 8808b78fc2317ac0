package docker_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
)

// TestAgentFromDockerfile builds the agent image from a Dockerfile
// relative to the manifest root, and refuses one that changed since the
// plan.
func TestAgentFromDockerfile(t *testing.T) {
	eng := dockertest.Engine(t)
	var built string // the image apply builds, removed after the project
	t.Cleanup(func() {
		if built != "" {
			if err := dockertest.RemoveImage(eng, built); err != nil {
				t.Error(err)
			}
		}
	})
	project := dockertest.Project(t, eng)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "docker"), 0o755)
	df := []byte("FROM " + dockertest.AgentImage(t, eng) + "\nCOPY hello.txt /hello.txt\n")
	os.WriteFile(filepath.Join(root, "docker", "agent.Dockerfile"), df, 0o644)
	os.WriteFile(filepath.Join(root, "docker", "hello.txt"), []byte("hello\n"), 0o644)
	sum := sha256.Sum256(df)

	p := dockertest.Plan(project, "", "built")
	in := &p.Instances[0]
	in.Agent.Dockerfile, in.Agent.DockerfileDigest = "docker/agent.Dockerfile", "sha256:"+hex.EncodeToString(sum[:])
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t), ManifestRoot: root})
	if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	agent := inspect(t, eng, in.Agent.ContainerName)
	built = agent.Config.Image
	if !strings.HasPrefix(agent.Config.Image, docker.AgentImageRepo+":") || !agent.State.Running {
		t.Errorf("agent runs %q (running %v), want a built %s image", agent.Config.Image, agent.State.Running, docker.AgentImageRepo)
	}
	if got := string(readFile(t, eng, agent.ID, "/hello.txt")); got != "hello\n" {
		t.Errorf("context file in the image: %q", got)
	}

	// The Dockerfile changes after planning: apply refuses to build it.
	os.WriteFile(filepath.Join(root, "docker", "agent.Dockerfile"), append(df, "ENV X=1\n"...), 0o644)
	in.ConfigHash.Agent = "sha256:agent-2"
	_, err := converge(t, b, p, false, executor.ApplyOptions{})
	if !errors.Is(err, executor.ErrStale) || !strings.Contains(err.Error(), "changed since the plan was made") {
		t.Fatalf("error = %v, want the stale dockerfile refused (executor.ErrStale, exit 3 in the CLI)", err)
	}
	destroy(t, b, p)
}
