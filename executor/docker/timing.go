package docker

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Timed wraps eng so that every call that changes or reads the Engine's
// state during an apply reports one line to out when it returns:
//
//	engine <call> <target> start=<s> dur=<s>
//
// start is seconds since Timed was called, dur the call's wall time.
// Targets are resource names, image references or short container IDs,
// never file contents or environment values. out is never called
// concurrently. It is a debugging aid (BOTTLEPLAN_ENGINE_TIMING, see
// docs/performance.md): it answers which Engine calls an apply waits on.
func Timed(eng Engine, out func(line string)) Engine {
	return &timed{Engine: eng, out: out, t0: time.Now()}
}

type timed struct {
	Engine
	out func(string)
	t0  time.Time
	mu  sync.Mutex
}

func (t *timed) report(call, target string, start time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.out(fmt.Sprintf("engine %s %s start=%.4f dur=%.4f", call, target, start.Sub(t.t0).Seconds(), time.Since(start).Seconds()))
}

func short(id string) string { return id[:min(12, len(id))] }

func (t *timed) Info(ctx context.Context) (system.Info, error) {
	defer t.report("Info", "-", time.Now())
	return t.Engine.Info(ctx)
}

func (t *timed) NetworkList(ctx context.Context, o network.ListOptions) ([]network.Summary, error) {
	defer t.report("NetworkList", "-", time.Now())
	return t.Engine.NetworkList(ctx, o)
}

func (t *timed) NetworkCreate(ctx context.Context, name string, o network.CreateOptions) (network.CreateResponse, error) {
	defer t.report("NetworkCreate", name, time.Now())
	return t.Engine.NetworkCreate(ctx, name, o)
}

func (t *timed) NetworkConnect(ctx context.Context, net, id string, cfg *network.EndpointSettings) error {
	defer t.report("NetworkConnect", net, time.Now())
	return t.Engine.NetworkConnect(ctx, net, id, cfg)
}

func (t *timed) NetworkRemove(ctx context.Context, id string) error {
	defer t.report("NetworkRemove", short(id), time.Now())
	return t.Engine.NetworkRemove(ctx, id)
}

func (t *timed) ContainerList(ctx context.Context, o container.ListOptions) ([]container.Summary, error) {
	defer t.report("ContainerList", "-", time.Now())
	return t.Engine.ContainerList(ctx, o)
}

func (t *timed) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	defer t.report("ContainerInspect", short(id), time.Now())
	return t.Engine.ContainerInspect(ctx, id)
}

func (t *timed) ContainerCreate(ctx context.Context, c *container.Config, h *container.HostConfig, n *network.NetworkingConfig, p *ocispec.Platform, name string) (container.CreateResponse, error) {
	defer t.report("ContainerCreate", name, time.Now())
	return t.Engine.ContainerCreate(ctx, c, h, n, p, name)
}

func (t *timed) ContainerStart(ctx context.Context, id string, o container.StartOptions) error {
	defer t.report("ContainerStart", short(id), time.Now())
	return t.Engine.ContainerStart(ctx, id, o)
}

func (t *timed) ContainerRemove(ctx context.Context, id string, o container.RemoveOptions) error {
	defer t.report("ContainerRemove", short(id), time.Now())
	return t.Engine.ContainerRemove(ctx, id, o)
}

func (t *timed) CopyToContainer(ctx context.Context, id, dst string, r io.Reader, o container.CopyToContainerOptions) error {
	defer t.report("CopyToContainer", short(id), time.Now())
	return t.Engine.CopyToContainer(ctx, id, dst, r, o)
}

func (t *timed) CopyFromContainer(ctx context.Context, id, src string) (io.ReadCloser, container.PathStat, error) {
	defer t.report("CopyFromContainer", short(id), time.Now())
	return t.Engine.CopyFromContainer(ctx, id, src)
}

func (t *timed) ImageInspect(ctx context.Context, ref string, o ...client.ImageInspectOption) (image.InspectResponse, error) {
	defer t.report("ImageInspect", ref, time.Now())
	return t.Engine.ImageInspect(ctx, ref, o...)
}
