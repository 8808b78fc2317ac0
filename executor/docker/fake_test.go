package docker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// fake is an Engine that records mutating calls and fails where told.
// Methods the tests do not expect panic through the nil embedded Engine.
type fake struct {
	Engine
	calls      []string
	images     map[string]bool
	runtimes   []string
	failCreate error // ContainerCreate
	failNet    error // NetworkCreate
	failCopy   error // CopyFromContainer
}

func (f *fake) Info(context.Context) (system.Info, error) {
	rt := map[string]system.RuntimeWithStatus{}
	for _, r := range f.runtimes {
		rt[r] = system.RuntimeWithStatus{}
	}
	return system.Info{Runtimes: rt}, nil
}

func (f *fake) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if f.images[ref] || strings.HasPrefix(ref, BundleImageRepo+":") {
		return image.InspectResponse{ID: ref}, nil
	}
	return image.InspectResponse{}, errdefs.NotFound(errors.New("no such image: " + ref))
}

func (f *fake) NetworkCreate(_ context.Context, name string, _ network.CreateOptions) (network.CreateResponse, error) {
	f.calls = append(f.calls, "network create "+name)
	return network.CreateResponse{ID: "n-" + name}, f.failNet
}

func (f *fake) ContainerCreate(_ context.Context, _ *container.Config, _ *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, name string) (container.CreateResponse, error) {
	f.calls = append(f.calls, "container create "+name)
	return container.CreateResponse{ID: "c-" + name}, f.failCreate
}

func (f *fake) CopyFromContainer(context.Context, string, string) (io.ReadCloser, container.PathStat, error) {
	return nil, container.PathStat{}, f.failCopy
}

func (f *fake) ContainerRemove(_ context.Context, id string, _ container.RemoveOptions) error {
	f.calls = append(f.calls, "container remove "+id)
	return errdefs.NotFound(errors.New("no such container"))
}

func testInstance() *plan.Instance {
	return &plan.Instance{
		Slug: "a", Backend: plan.BackendDocker, Runtime: "auto",
		Network: plan.Network{Subnet: "10.9.0.0/28", Gateway: "10.9.0.1", BundleIP: "10.9.0.2", AgentIP: "10.9.0.3", InternalName: "p-a-int", EgressName: "p-a-egr"},
		Agent:   plan.Agent{Name: "a", Image: "agent:missing", ContainerName: "p-a-agent"},
		Bundle:  plan.Bundle{ContainerName: "p-a-bundle"},
	}
}

func diffAll(t *testing.T, in *plan.Instance) (*plan.Plan, *executor.Changes) {
	t.Helper()
	p := &plan.Plan{FormatVersion: 1, Project: "p", Instances: []plan.Instance{*in}}
	ch, err := executor.Diff(p, &executor.Observed{Project: "p"}, executor.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p, ch
}

func TestMissingAgentImageStopsBeforeAnyChange(t *testing.T) {
	f := &fake{}
	p, ch := diffAll(t, testInstance())
	err := executor.Apply(context.Background(), New(f, Options{BundleBinary: staticBinaryForTest(t)}), p, ch, executor.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), `agent image "agent:missing" is not on this machine`) {
		t.Fatalf("error = %v", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("changes made before the image check: %v", f.calls)
	}
}

func TestEngineErrorsAreWrappedAndStopTheInstance(t *testing.T) {
	tests := map[string]struct {
		fake    *fake
		wantErr string
		calls   int
	}{
		"network create fails": {
			fake:    &fake{images: map[string]bool{"agent:missing": true}, failNet: errors.New("pool overlaps")},
			wantErr: `project "p": create network-egress "p-egress": create network: pool overlaps`,
			calls:   1,
		},
		"name taken by a foreign container": {
			fake:    &fake{images: map[string]bool{"agent:missing": true}, failCreate: fmt.Errorf("create: %w", cerrdefs.ErrConflict)},
			wantErr: `a container bottleplan does not own may hold the name "p-a-bundle"`,
			calls:   3,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.fake.Engine = nil
			p, ch := diffAll(t, testInstance())
			err := executor.Apply(context.Background(), New(tc.fake, Options{BundleBinary: staticBinaryForTest(t)}), p, ch, executor.ApplyOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if len(tc.fake.calls) != tc.calls {
				t.Errorf("calls %v, want %d", tc.fake.calls, tc.calls)
			}
		})
	}
}

func TestRuntimeChoice(t *testing.T) {
	tests := map[string]struct {
		want, got string
		runsc     bool
		err       bool
	}{
		"auto without runsc":  {want: "auto", got: ""},
		"auto with runsc":     {want: "auto", runsc: true, got: "runsc"},
		"runc":                {want: "runc", runsc: true, got: ""},
		"runsc missing fails": {want: "runsc", err: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := pickRuntime(tc.want, tc.runsc)
			if (err != nil) != tc.err || got != tc.got {
				t.Errorf("pickRuntime(%q, %v) = %q, %v", tc.want, tc.runsc, got, err)
			}
		})
	}
}

func TestReadFileNotFoundIsEmpty(t *testing.T) {
	f := &fake{failCopy: errdefs.NotFound(errors.New("no such file"))}
	b, err := ReadFile(context.Background(), f, "c", plan.GuestCAFile)
	if err != nil || b != nil {
		t.Errorf("ReadFile = %q, %v; want nil, nil", b, err)
	}
	f.failCopy = errdefs.System(errors.New("engine down"))
	if _, err := ReadFile(context.Background(), f, "c", plan.GuestCAFile); err == nil {
		t.Error("an Engine failure was taken for a missing file")
	}
}

func TestCheckStatic(t *testing.T) {
	if err := CheckStatic("/bin/sh"); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0 go build") {
		t.Errorf("dynamic /bin/sh: error = %v, want how to build a static binary", err)
	}
	if err := CheckStatic("fake_test.go"); err == nil || !strings.Contains(err.Error(), "not an ELF executable") {
		t.Errorf("a text file: error = %v", err)
	}
}

// staticBinaryForTest writes a minimal ELF executable without program
// headers (so without PT_INTERP): the static check accepts it, and the
// fake reports every bundle image as present, so nothing runs it.
func staticBinaryForTest(t *testing.T) string {
	t.Helper()
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 2, 1, 1                // 64-bit, little endian, version 1
	binary.LittleEndian.PutUint16(h[16:], 2)  // ET_EXEC
	binary.LittleEndian.PutUint16(h[18:], 62) // x86-64
	binary.LittleEndian.PutUint32(h[20:], 1)  // version
	binary.LittleEndian.PutUint16(h[52:], 64) // header size
	binary.LittleEndian.PutUint16(h[54:], 56) // program header entry size
	binary.LittleEndian.PutUint16(h[58:], 64) // section header entry size
	path := filepath.Join(t.TempDir(), "static")
	if err := os.WriteFile(path, h, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckStatic(path); err != nil {
		t.Fatal(err)
	}
	return path
}
