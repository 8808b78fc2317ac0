package docker

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// ErrOperator is an error the bundle's operator API answered (an
// unknown ID, a bad request), as opposed to a failure to reach it; the
// same error as executor.ErrOperator.
var ErrOperator = executor.ErrOperator

// BundleCtl runs `bottleplan-bundle ctl args...` in in's bundle container
// through the Engine's exec API (what `docker exec` does) and returns
// its stdout, the operator API's JSON answer. This is the host's only
// way to the operator API: a unix socket in the bundle container, on no
// network (bundle/operator.go). It runs as the bundle's user, who alone
// may open the socket. An answer the API refused is wrapped in
// ErrOperator with the API's message.
func (b *Backend) BundleCtl(ctx context.Context, in *plan.Instance, args ...string) ([]byte, error) {
	name := in.Bundle.ContainerName
	ex, err := b.eng.ContainerExecCreate(ctx, name, container.ExecOptions{
		User:         fmt.Sprintf("%d:%d", bundleUID, bundleUID),
		Cmd:          append([]string{plan.BundleBinary, "ctl"}, args...),
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("instance %q has no bundle container %q: apply the plan first", in.Slug, name)
		}
		return nil, fmt.Errorf("exec in bundle %q: %w", name, err)
	}
	hj, err := b.eng.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("exec in bundle %q: %w", name, err)
	}
	defer hj.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, hj.Reader); err != nil {
		return nil, fmt.Errorf("exec in bundle %q: read output: %w", name, err)
	}
	st, err := b.eng.ContainerExecInspect(ctx, ex.ID)
	if err != nil {
		return nil, fmt.Errorf("exec in bundle %q: %w", name, err)
	}
	if st.ExitCode != 0 {
		msg := strings.TrimSpace(stderr.String())
		msg = strings.TrimPrefix(msg, path.Base(plan.BundleBinary)+": ")
		return nil, fmt.Errorf("%w of %s: %s", ErrOperator, in.Slug, msg)
	}
	return stdout.Bytes(), nil
}
