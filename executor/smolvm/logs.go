package smolvm

import (
	"context"
	"fmt"
	"io"

	"github.com/bottleplan/bottleplan/executor"
)

var _ executor.LogReader = (*Hybrid)(nil)

// Logs implements executor.LogReader: a bundle is a Docker container, so
// the Docker side reads its output (the decision log); a machine's output
// is not kept anywhere bottleplan can read yet.
func (h *Hybrid) Logs(ctx context.Context, req executor.LogRequest, stdout, stderr io.Writer) error {
	if isMachine(req.Instance, req.Role) {
		return fmt.Errorf("instance %q runs its agent as a smolvm machine, whose output bottleplan cannot read yet (--decisions reads its bundle): %w",
			req.Instance.Slug, executor.ErrLogsUnsupported)
	}
	lr, ok := h.Docker.(executor.LogReader)
	if !ok {
		return fmt.Errorf("the Docker side cannot read logs: %w", executor.ErrLogsUnsupported)
	}
	return lr.Logs(ctx, req, stdout, stderr)
}
