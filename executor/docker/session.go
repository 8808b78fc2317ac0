package docker

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/bottleplan/bottleplan/executor"
)

var _ executor.Session = (*Backend)(nil)

// Attach implements executor.Session, as `docker attach` does: stdin,
// stdout and stderr of the agent's main process over one hijacked
// connection, its terminal resized with the operator's.
func (b *Backend) Attach(ctx context.Context, req executor.AttachRequest) (int, error) {
	in := req.Instance
	insp, err := b.ownContainer(ctx, req.Project, in, executor.RoleAgent, in.Agent.ContainerName, "attach")
	if err != nil {
		return 0, err
	}
	if err := runningAgent(insp, in.Slug); err != nil {
		return 0, err
	}
	if insp.Config == nil || !insp.Config.Tty || !insp.Config.OpenStdin {
		return 0, fmt.Errorf("the agent of instance %q runs without a terminal (made from a plan older than attach); make the plan again with this bottleplan and apply it, which replaces the agent once", in.Slug)
	}
	keys := req.DetachKeys
	if keys == "" {
		keys = executor.DefaultDetachKeys
	}
	resp, err := b.eng.ContainerAttach(ctx, insp.ID, container.AttachOptions{
		Stream: true, Stdin: req.IO.In != nil, Stdout: true, Stderr: true, DetachKeys: keys,
	})
	if err != nil {
		return 0, fmt.Errorf("attach to the agent of instance %q: %w", in.Slug, err)
	}
	defer resp.Close()
	stopResize := b.followResize(ctx, req.IO.Resize, func(ctx context.Context, s executor.TermSize) error {
		return b.eng.ContainerResize(ctx, insp.ID, container.ResizeOptions{Height: s.Rows, Width: s.Cols})
	})
	defer stopResize()
	if err := pipe(ctx, resp, req.IO, true); err != nil {
		return 0, fmt.Errorf("attach to the agent of instance %q: %w", in.Slug, err)
	}
	// The stream ended: the process exited, or the Engine saw the detach
	// keys and closed it while the process runs on.
	after, err := b.eng.ContainerInspect(ctx, insp.ID)
	if err != nil {
		return 0, fmt.Errorf("inspect the agent of instance %q: %w", in.Slug, err)
	}
	if after.State != nil && after.State.Running {
		return 0, executor.ErrDetached
	}
	wait, errc := b.eng.ContainerWait(ctx, insp.ID, container.WaitConditionNotRunning)
	select {
	case w := <-wait:
		return int(w.StatusCode), nil
	case err := <-errc:
		return 0, fmt.Errorf("wait for the agent of instance %q: %w", in.Slug, err)
	}
}

// Exec implements executor.Session, as `docker exec` does.
func (b *Backend) Exec(ctx context.Context, req executor.ExecRequest) (int, error) {
	in := req.Instance
	if len(req.Cmd) == 0 {
		return 0, fmt.Errorf("no command to run")
	}
	insp, err := b.ownContainer(ctx, req.Project, in, executor.RoleAgent, in.Agent.ContainerName, "exec")
	if err != nil {
		return 0, err
	}
	if err := runningAgent(insp, in.Slug); err != nil {
		return 0, err
	}
	ex, err := b.eng.ContainerExecCreate(ctx, insp.ID, container.ExecOptions{
		Cmd: req.Cmd, Tty: req.TTY,
		AttachStdin: req.IO.In != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return 0, fmt.Errorf("exec in the agent of instance %q: %w", in.Slug, err)
	}
	resp, err := b.eng.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{Tty: req.TTY})
	if err != nil {
		return 0, fmt.Errorf("exec in the agent of instance %q: %w", in.Slug, err)
	}
	defer resp.Close()
	if req.TTY {
		stop := b.followResize(ctx, req.IO.Resize, func(ctx context.Context, s executor.TermSize) error {
			return b.eng.ContainerExecResize(ctx, ex.ID, container.ResizeOptions{Height: s.Rows, Width: s.Cols})
		})
		defer stop()
	}
	if err := pipe(ctx, resp, req.IO, req.TTY); err != nil {
		return 0, fmt.Errorf("exec in the agent of instance %q: %w", in.Slug, err)
	}
	// The output ends when the process does; the Engine may take a
	// moment more to record its exit code.
	for i := 0; ; i++ {
		st, err := b.eng.ContainerExecInspect(ctx, ex.ID)
		if err != nil {
			return 0, fmt.Errorf("exec in the agent of instance %q: %w", in.Slug, err)
		}
		if !st.Running || i == 50 {
			return st.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// runningAgent fails unless the agent container is running, saying how
// it ended and what to do.
func runningAgent(insp container.InspectResponse, slug string) error {
	if insp.State != nil && insp.State.Running {
		return nil
	}
	how := "is not running"
	if insp.State != nil && insp.State.Status == "exited" {
		how = fmt.Sprintf("exited with code %d", insp.State.ExitCode)
	}
	return fmt.Errorf("the agent of instance %q %s; see bottleplan logs --instance %s, and bottleplan apply starts it again", slug, how, slug)
}

// pipe copies io.In to the hijacked connection (closing its write side
// when In ends) and the connection's output to io.Out (and io.Err,
// demultiplexed, without a terminal) until the output ends or ctx is
// done.
func pipe(ctx context.Context, resp types.HijackedResponse, tio executor.TermIO, tty bool) error {
	if tio.In != nil {
		go func() {
			io.Copy(resp.Conn, tio.In)
			resp.CloseWrite()
		}()
	}
	done := make(chan error, 1)
	go func() {
		var err error
		if tty {
			_, err = io.Copy(tio.Out, resp.Reader)
		} else {
			_, err = stdcopy.StdCopy(tio.Out, tio.Err, resp.Reader)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// followResize applies every size from sizes with resize until the
// returned stop is called. A failed resize is not worth ending the
// session for (the process may just have exited).
func (b *Backend) followResize(ctx context.Context, sizes <-chan executor.TermSize, resize func(context.Context, executor.TermSize) error) (stop func()) {
	if sizes == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s, ok := <-sizes:
				if !ok {
					return
				}
				if s.Rows > 0 && s.Cols > 0 {
					resize(ctx, s)
				}
			}
		}
	}()
	return cancel
}
