package dockertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// RunAgentSide runs image (the flood attacker, FloodImage) with args
// where the agent would be, at the first instance's probe address on its
// internal network with no capabilities and the bundle as resolver,
// until it exits, and decodes the JSON report it prints into report. The
// container, named <project>-agentside-<name>, is removed afterwards.
func RunAgentSide(eng *client.Client, image string, p *plan.Plan, name string, args []string, timeout time.Duration, report any) error {
	in := &p.Instances[0]
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cfg := &container.Config{Image: image, Cmd: args,
		Labels: executor.Labels(p.Project, in.Slug, executor.RoleProbe, "", p.PlanDigest)}
	host := &container.HostConfig{SecurityOpt: []string{"no-new-privileges"}, CapDrop: []string{"ALL"}, DNS: []string{in.Network.BundleIP}}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		in.Network.InternalName: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: in.Network.ProbeIP}},
	}}
	c, err := eng.ContainerCreate(ctx, cfg, host, nc, nil, p.Project+"-agentside-"+name)
	if err != nil {
		return err
	}
	defer eng.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
	waitc, errc := eng.ContainerWait(ctx, c.ID, container.WaitConditionNextExit)
	if err := eng.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		return err
	}
	select {
	case w := <-waitc:
		if w.StatusCode != 0 {
			stdout, stderr, _ := ContainerOutput(eng, c.ID, time.Time{})
			return fmt.Errorf("agent side %s exited %d: %s %s", name, w.StatusCode, stdout, stderr)
		}
	case err := <-errc:
		return err
	}
	stdout, _, err := ContainerOutput(eng, c.ID, time.Time{})
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(stdout), report); err != nil {
		return fmt.Errorf("agent side %s report: %v: %.500s", name, err, stdout)
	}
	return nil
}

// ContainerOutput reads a container's stdout and stderr as the Engine
// kept them, since a time when not zero.
func ContainerOutput(eng *client.Client, name string, since time.Time) (stdout, stderr string, err error) {
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true}
	if !since.IsZero() {
		opts.Since = fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())
	}
	rc, err := eng.ContainerLogs(context.Background(), name, opts)
	if err != nil {
		return "", "", err
	}
	defer rc.Close()
	var out, errb bytes.Buffer
	_, err = stdcopy.StdCopy(&out, &errb, rc)
	return out.String(), errb.String(), err
}
