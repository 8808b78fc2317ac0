package smolvm

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// logsDocker stands for the Docker side: it records whose logs it read.
type logsDocker struct {
	executor.Backend
	read []executor.Role
}

func (d *logsDocker) Logs(_ context.Context, req executor.LogRequest, stdout, _ io.Writer) error {
	d.read = append(d.read, req.Role)
	_, err := io.WriteString(stdout, "line\n")
	return err
}

// TestHybridLogs: a bundle's output (the decision log) is read on the
// Docker side, a docker agent's too; a machine's is not supported yet
// and the error says so without asking Docker.
func TestHybridLogs(t *testing.T) {
	tests := map[string]struct {
		backend     string
		role        executor.Role
		unsupported bool
	}{
		"smol bundle":   {backend: plan.BackendSmolmachines, role: executor.RoleBundle},
		"smol agent":    {backend: plan.BackendSmolmachines, role: executor.RoleAgent, unsupported: true},
		"docker agent":  {backend: plan.BackendDocker, role: executor.RoleAgent},
		"docker bundle": {backend: plan.BackendDocker, role: executor.RoleBundle},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := &logsDocker{}
			h := &Hybrid{Docker: d}
			in := &plan.Instance{Slug: "scout", Backend: tc.backend}
			err := h.Logs(context.Background(), executor.LogRequest{Project: "p", Instance: in, Role: tc.role}, io.Discard, io.Discard)
			if tc.unsupported {
				if !errors.Is(err, executor.ErrLogsUnsupported) || len(d.read) != 0 {
					t.Fatalf("err %v, docker read %v; want ErrLogsUnsupported without reading", err, d.read)
				}
				return
			}
			if err != nil || len(d.read) != 1 || d.read[0] != tc.role {
				t.Fatalf("err %v, docker read %v; want %s read on the Docker side", err, d.read, tc.role)
			}
		})
	}
}
