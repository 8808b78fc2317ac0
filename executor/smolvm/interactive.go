package smolvm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
)

// Stdio is the terminal an interactive command is attached to.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// Exec runs argv in the project's machine name with stdin attached and,
// with tty, a pseudo-terminal (`machine exec -i [-t]`): what `bottleplan
// attach` (a shell) and `bottleplan exec` run for a smolmachines
// instance. The command runs as the image's USER, with the guest env the
// machine was created with; secrets are not passed again (the launched
// agent has them, a shell does not). A machine that is not the project's
// is refused. The exit code of the guest command comes back as an
// *ExitError.
func (b *Backend) Exec(ctx context.Context, project, name string, tty bool, argv []string, stdio Stdio) error {
	if len(argv) == 0 {
		return errors.New("exec: no command")
	}
	ms, err := b.List(ctx)
	if err != nil {
		return err
	}
	m, ok := find(ms, name)
	switch {
	case !ok:
		return fmt.Errorf("machine %q does not exist: apply the plan first", name)
	case !m.Owned(project):
		return fmt.Errorf("machine %q does not carry project %q's labels: bottleplan leaves it alone", name, project)
	case !m.running(b.sp):
		return fmt.Errorf("machine %q is %s, not running: apply the plan again", name, m.State)
	}
	return b.r.runAttached(ctx, InteractiveCmd(b.sp, name, tty, argv), stdio)
}

// runAttached runs c with the caller's stdio instead of captured output,
// in the same scrubbed environment as every other smolvm command.
func (r *Runner) runAttached(ctx context.Context, c Command, stdio Stdio) error {
	if len(c.Secrets) > 0 {
		return errors.New("an attached command carries no secrets")
	}
	cmd, rendered, err := r.command(ctx, c)
	if err != nil {
		return err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.In, stdio.Out, stdio.Err
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &ExitError{Command: rendered, Code: ee.ExitCode()}
		}
		return fmt.Errorf("run `%s`: %w", rendered, err)
	}
	return nil
}
