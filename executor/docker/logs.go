package docker

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

var _ executor.LogReader = (*Backend)(nil)

// Logs implements executor.LogReader: it reads the container's output
// as the Engine kept it (json-file, rotated: logConfig), demultiplexed
// into stdout and stderr. It reads a container only when its labels say
// it is req.Role of req.Instance in req.Project.
func (b *Backend) Logs(ctx context.Context, req executor.LogRequest, stdout, stderr io.Writer) error {
	in := req.Instance
	var name string
	switch req.Role {
	case executor.RoleBundle:
		name = in.Bundle.ContainerName
	case executor.RoleAgent:
		name = in.Agent.ContainerName
	default:
		return fmt.Errorf("no logs for role %q", req.Role)
	}
	if name == "" {
		return fmt.Errorf("instance %q has no %s container: %w", in.Slug, req.Role, executor.ErrLogsUnsupported)
	}
	insp, err := b.ownContainer(ctx, req.Project, in, req.Role, name, "logs")
	if err != nil {
		return err
	}
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: req.Follow}
	if !req.Since.IsZero() {
		// The Engine's own form: seconds.nanoseconds since the epoch.
		opts.Since = strconv.FormatInt(req.Since.Unix(), 10) + "." + fmt.Sprintf("%09d", req.Since.Nanosecond())
	}
	rc, err := b.eng.ContainerLogs(ctx, insp.ID, opts)
	if err != nil {
		return fmt.Errorf("read logs of %q: %w", name, err)
	}
	defer rc.Close()
	if insp.Config != nil && insp.Config.Tty {
		// A TTY container's log is one raw stream, not multiplexed.
		_, err = io.Copy(stdout, rc)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, rc)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("read logs of %q: %w", name, err)
	}
	return nil
}

// ownContainer inspects the container name and checks that its labels
// say it is role of in in project; verb (the command) is named in the
// errors. A container that does not exist is executor.ErrNotApplied.
func (b *Backend) ownContainer(ctx context.Context, project string, in *plan.Instance, role executor.Role, name, verb string) (container.InspectResponse, error) {
	insp, err := b.eng.ContainerInspect(ctx, name)
	if isNotFound(err) {
		return insp, fmt.Errorf("instance %q is %w: no %s container %q; run bottleplan apply first", in.Slug, executor.ErrNotApplied, role, name)
	}
	if err != nil {
		return insp, fmt.Errorf("inspect %s %q: %w", role, name, err)
	}
	if l := labelsOf(insp); l[executor.LabelProject] != project || l[executor.LabelInstance] != in.Slug || l[executor.LabelRole] != string(role) {
		return insp, fmt.Errorf("container %q is not bottleplan's %s of instance %q in project %q; %s leaves it alone", name, role, in.Slug, project, verb)
	}
	return insp, nil
}

// labelsOf returns a container's labels, nil when it has no config.
func labelsOf(insp container.InspectResponse) map[string]string {
	if insp.Config == nil {
		return nil
	}
	return insp.Config.Labels
}
