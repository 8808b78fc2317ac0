package docker_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/google/go-cmp/cmp"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
)

// TestImageDriftAndReplace: an agent.image reference rebuilt under the
// same tag replaces the agent, and only it, on the next apply;
// DiffOptions.Replace (apply --replace) replaces an instance's bundle and
// agent with nothing changed, keeping its networks and CA.
func TestImageDriftAndReplace(t *testing.T) {
	eng := dockertest.Engine(t)
	ctx := context.Background()
	base := dockertest.AgentImage(t, eng)
	tag := fmt.Sprintf("bottleplan-test-drift:%d", time.Now().UnixNano())
	removeImage := func() { eng.ImageRemove(ctx, tag, image.RemoveOptions{Force: true, PruneChildren: true}) }
	removeImage()
	t.Cleanup(removeImage) // after the project's containers (cleanups run last first)
	project := dockertest.Project(t, eng)
	if err := eng.ImageTag(ctx, base, tag); err != nil {
		t.Fatal(err)
	}
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t)})
	p := dockertest.Plan(project, tag, "alpha", "beta")
	if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	oldID := imageID(t, eng, base)
	for _, in := range p.Instances {
		if got := inspect(t, eng, in.Agent.ContainerName).Image; got != oldID {
			t.Fatalf("%s agent runs %s, want %s", in.Slug, got, oldID)
		}
	}
	before := containerIDs(t, eng, project)

	// Rebuild the tag: same plan, another image behind the reference.
	newID := buildOnTop(t, eng, base, tag)
	if newID == oldID {
		t.Fatal("the rebuilt image has the old ID")
	}
	short := func(id string) string { return id[len("sha256:"):][:12] }
	cause := "(replace: image " + tag + " now names " + short(newID) + " (the container runs " + short(oldID) + "))"
	want := []string{
		"-/+ alpha agent " + p.Instances[0].Agent.ContainerName + " " + cause,
		"-/+ beta agent " + p.Instances[1].Agent.ContainerName + " " + cause,
	}
	if d := cmp.Diff(want, pending(t, b, p)); d != "" {
		t.Fatalf("ops after the rebuild (-want +got):\n%s", d)
	}
	if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	after := containerIDs(t, eng, project)
	for _, in := range p.Instances {
		if got := inspect(t, eng, in.Agent.ContainerName).Image; got != newID {
			t.Errorf("%s agent runs %s after apply, want %s", in.Slug, got, newID)
		}
		if before[in.Bundle.ContainerName] != after[in.Bundle.ContainerName] {
			t.Errorf("%s bundle was replaced; only the agent's image changed", in.Slug)
		}
	}
	if ops := pending(t, b, p); len(ops) != 0 {
		t.Fatalf("apply after the rebuild did not converge: %v", ops)
	}

	// --replace beta: its containers are new, its CA and networks kept,
	// alpha untouched.
	beta := p.Instances[1]
	caBefore := inspect(t, eng, beta.Agent.ContainerName).Config.Labels[docker.LabelCAFingerprint]
	ch, err := convergeWith(t, b, p, executor.DiffOptions{Replace: []string{"beta"}}, executor.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		"-/+ beta bundle " + beta.Bundle.ContainerName + " (replace: asked for with --replace)",
		"-/+ beta agent " + beta.Agent.ContainerName + " (replace: asked for with --replace)",
	}
	if d := cmp.Diff(want, opStrings(ch)); d != "" {
		t.Fatalf("--replace ops (-want +got):\n%s", d)
	}
	replaced := containerIDs(t, eng, project)
	for name, id := range after {
		changed := replaced[name] != id
		if wantChanged := name == beta.Bundle.ContainerName || name == beta.Agent.ContainerName; changed != wantChanged {
			t.Errorf("%s: replaced=%v, want %v", name, changed, wantChanged)
		}
	}
	for _, name := range []string{beta.Bundle.ContainerName, beta.Agent.ContainerName} {
		if got := inspect(t, eng, name).Config.Labels[docker.LabelCAFingerprint]; got != caBefore {
			t.Errorf("%s trusts CA %s after --replace, want the kept %s", name, got, caBefore)
		}
	}
	if ops := pending(t, b, p); len(ops) != 0 {
		t.Fatalf("--replace did not converge: %v", ops)
	}
}

func imageID(t *testing.T, eng docker.Engine, ref string) string {
	t.Helper()
	img, err := eng.ImageInspect(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return img.ID
}

// buildOnTop builds `FROM base` plus a label, tags it tag and returns its
// ID: another image under the same reference, from local images only.
func buildOnTop(t *testing.T, eng docker.Engine, base, tag string) string {
	t.Helper()
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	df := []byte("FROM " + base + "\nLABEL io.bottleplan.test=rebuilt\n")
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))}); err != nil {
		t.Fatal(err)
	}
	tw.Write(df)
	tw.Close()
	if err := docker.BuildContext(context.Background(), eng, &ctxTar, tag, "Dockerfile"); err != nil {
		t.Fatalf("build %s: %v", tag, err)
	}
	return imageID(t, eng, tag)
}
