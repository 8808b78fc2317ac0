package docker

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/bottleplan/bottleplan/bundle/probewire"
	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// probeFake is an Engine with a live bundle and a probe container whose
// run fails where told.
type probeFake struct {
	fake
	project   string
	stale     map[string]string // name -> role label of an existing container
	failStart error
	exitCode  int64
	logs      string
	created   *container.Config
	createdHC *container.HostConfig
	createdNC *network.NetworkingConfig
}

func (f *probeFake) ContainerInspect(_ context.Context, name string) (container.InspectResponse, error) {
	switch {
	case name == "p-a-bundle":
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{ID: "bundle-id", Image: "sha256:bundleimage",
				State: &container.State{Running: true, Status: "running"}, HostConfig: &container.HostConfig{Runtime: "runsc"}},
			Config:          &container.Config{Labels: executor.Labels(f.project, "a", executor.RoleBundle, "h", "d")},
			NetworkSettings: &container.NetworkSettings{},
		}, nil
	case f.stale[name] != "":
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{ID: "stale-" + name},
			Config:            &container.Config{Labels: map[string]string{executor.LabelProject: f.project, executor.LabelRole: f.stale[name]}},
		}, nil
	}
	return container.InspectResponse{}, errdefs.NotFound(errors.New("no such container"))
}

func (f *probeFake) ContainerCreate(_ context.Context, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, _ *ocispec.Platform, name string) (container.CreateResponse, error) {
	f.calls = append(f.calls, "container create "+name)
	f.created, f.createdHC, f.createdNC = cfg, hc, nc
	return container.CreateResponse{ID: "probe-id"}, nil
}

func (f *probeFake) ContainerStart(context.Context, string, container.StartOptions) error {
	f.calls = append(f.calls, "container start")
	return f.failStart
}

func (f *probeFake) ContainerWait(context.Context, string, container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	w := make(chan container.WaitResponse, 1)
	w <- container.WaitResponse{StatusCode: f.exitCode}
	return w, make(chan error)
}

func (f *probeFake) ContainerLogs(context.Context, string, container.LogsOptions) (io.ReadCloser, error) {
	// Multiplexed like a non-TTY container's logs: stream 1, big-endian
	// length, payload.
	n := len(f.logs)
	hdr := []byte{1, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	return io.NopCloser(strings.NewReader(string(hdr) + f.logs)), nil
}

func (f *probeFake) ContainerRemove(_ context.Context, id string, _ container.RemoveOptions) error {
	f.calls = append(f.calls, "container remove "+id)
	return nil
}

func probePlan() *plan.Plan {
	in := testInstance()
	in.Network.ProbeIP = "10.9.0.4"
	return &plan.Plan{FormatVersion: 1, Project: "p", PlanDigest: "sha256:d", Instances: []plan.Instance{*in}}
}

// TestProbeContainerIsRemovedWhateverHappens: the probe container is
// removed after a run that failed at any step, and a leftover probe is
// removed first while a foreign container of that name is refused.
func TestProbeContainerIsRemovedWhateverHappens(t *testing.T) {
	targets := []probewire.Target{{Name: "x", Kind: probewire.TCP, Addr: "10.9.0.1:22"}}
	tests := map[string]struct {
		f         *probeFake
		wantErr   string
		wantCalls []string
	}{
		"ok": {
			f:         &probeFake{logs: `[{"name":"x","kind":"tcp","error":"i/o timeout","elapsed_ms":1}]`},
			wantCalls: []string{"container create p-a-probe", "container start", "container remove probe-id"},
		},
		"start fails": {
			f:         &probeFake{failStart: errors.New("runtime exploded")},
			wantErr:   "start probe container \"p-a-probe\": runtime exploded",
			wantCalls: []string{"container create p-a-probe", "container start", "container remove probe-id"},
		},
		"runner fails": {
			f:         &probeFake{exitCode: 1},
			wantErr:   "probe runner exited 1",
			wantCalls: []string{"container create p-a-probe", "container start", "container remove probe-id"},
		},
		"runner output garbled": {
			f:         &probeFake{logs: "not json"},
			wantErr:   "probe runner output is not JSON results",
			wantCalls: []string{"container create p-a-probe", "container start", "container remove probe-id"},
		},
		"leftover probe removed first": {
			f:         &probeFake{stale: map[string]string{"p-a-probe": "probe"}, logs: `[]`},
			wantCalls: []string{"container remove stale-p-a-probe", "container create p-a-probe", "container start", "container remove probe-id"},
		},
		"foreign container of that name": {
			f:       &probeFake{stale: map[string]string{"p-a-probe": "agent"}},
			wantErr: `container "p-a-probe" exists and is not a bottleplan probe of project "p"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.f.project = "p"
			_, err := New(tc.f, Options{}).RunProbes(context.Background(), probePlan(), "a", targets, nil)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if strings.Join(tc.f.calls, "; ") != strings.Join(tc.wantCalls, "; ") {
				t.Errorf("calls:\n %v\nwant\n %v", tc.f.calls, tc.wantCalls)
			}
		})
	}
}

// TestProbeContainerSpec: the probe runs the live bundle's image and
// runtime, as root with exactly the agent's capabilities (so it stands
// for the agent), at probe_ip on the internal network only, with the
// agent's resolver, log rotation and the five labels (role probe).
func TestProbeContainerSpec(t *testing.T) {
	f := &probeFake{project: "p", logs: `[]`}
	if _, err := New(f, Options{}).RunProbes(context.Background(), probePlan(), "a", nil, nil); err != nil {
		t.Fatal(err)
	}
	c, hc, nc := f.created, f.createdHC, f.createdNC
	if c.Image != "sha256:bundleimage" || c.Entrypoint[0] != plan.BundleBinary || c.Cmd[0] != "probe" || c.User != "0:0" {
		t.Errorf("config: image %q entrypoint %v cmd %v user %q", c.Image, c.Entrypoint, c.Cmd, c.User)
	}
	if c.Labels[executor.LabelRole] != "probe" || c.Labels[executor.LabelProject] != "p" || c.Labels[executor.LabelInstance] != "a" {
		t.Errorf("labels: %v", c.Labels)
	}
	if hc.Runtime != "runsc" || strings.Join(hc.DNS, ",") != "10.9.0.2" || len(hc.Binds) != 0 || hc.NetworkMode != "" {
		t.Errorf("host config: %+v", hc)
	}
	capAdd, capDrop := agentCapabilities(nil)
	if !slices.Equal(hc.CapAdd, capAdd) || !slices.Equal(hc.CapDrop, capDrop) || !slices.Contains(hc.CapDrop, "NET_RAW") || !slices.Contains(hc.SecurityOpt, "no-new-privileges") {
		t.Errorf("capabilities: add %v drop %v security %v; want the agent's (add %v, drop %v) and no-new-privileges", hc.CapAdd, hc.CapDrop, hc.SecurityOpt, capAdd, capDrop)
	}
	if hc.LogConfig.Type != logDriver {
		t.Errorf("log config %+v, want %s with rotation", hc.LogConfig, logDriver)
	}
	if len(nc.EndpointsConfig) != 1 || nc.EndpointsConfig["p-a-int"] == nil || nc.EndpointsConfig["p-a-int"].IPAMConfig.IPv4Address != "10.9.0.4" {
		t.Errorf("networks: %+v", nc.EndpointsConfig)
	}
}
