package docker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/bottleplan/bottleplan/executor"
)

// logsFake is an Engine with one container (or none) and its log.
type logsFake struct {
	Engine
	insp *container.InspectResponse // nil: no such container
	// stream is what ContainerLogs returns, multiplexed unless tty.
	stdout, stderr string
	tty            bool
	got            container.LogsOptions
}

func (f *logsFake) ContainerInspect(_ context.Context, name string) (container.InspectResponse, error) {
	if f.insp == nil {
		return container.InspectResponse{}, errdefs.NotFound(errors.New("no such container: " + name))
	}
	return *f.insp, nil
}

func (f *logsFake) ContainerLogs(_ context.Context, _ string, opts container.LogsOptions) (io.ReadCloser, error) {
	f.got = opts
	if f.tty {
		return io.NopCloser(strings.NewReader(f.stdout + f.stderr)), nil
	}
	var b bytes.Buffer
	io.WriteString(stdcopy.NewStdWriter(&b, stdcopy.Stdout), f.stdout)
	io.WriteString(stdcopy.NewStdWriter(&b, stdcopy.Stderr), f.stderr)
	return io.NopCloser(&b), nil
}

func labelled(project, slug string, role executor.Role, tty bool) *container.InspectResponse {
	return &container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: "c1"},
		Config: &container.Config{Tty: tty, Labels: map[string]string{
			executor.LabelProject: project, executor.LabelInstance: slug, executor.LabelRole: string(role),
		}},
	}
}

// TestLogsReadsOnlyOurContainer: Logs demultiplexes the instance's
// container, passes since in the Engine's form, says "run bottleplan
// apply" for a missing container, and leaves alone one whose labels are
// not the instance's.
func TestLogsReadsOnlyOurContainer(t *testing.T) {
	since := time.Date(2026, 1, 2, 15, 4, 5, 6000, time.UTC)
	tests := map[string]struct {
		fake       *logsFake
		role       executor.Role
		wantOut    string
		wantErrOut string
		wantErr    string
		notApplied bool
	}{
		"bundle": {fake: &logsFake{insp: labelled("p", "a", executor.RoleBundle, false), stdout: "{}\n", stderr: "warn\n"},
			role: executor.RoleBundle, wantOut: "{}\n", wantErrOut: "warn\n"},
		"tty agent": {fake: &logsFake{insp: labelled("p", "a", executor.RoleAgent, true), stdout: "raw\n", tty: true},
			role: executor.RoleAgent, wantOut: "raw\n"},
		"missing": {fake: &logsFake{}, role: executor.RoleAgent, notApplied: true,
			wantErr: `instance "a" is not applied: no agent container "p-a-agent"; run bottleplan apply first`},
		"other project": {fake: &logsFake{insp: labelled("q", "a", executor.RoleBundle, false)}, role: executor.RoleBundle,
			wantErr: `container "p-a-bundle" is not bottleplan's bundle of instance "a" in project "p"; logs leaves it alone`},
		"other role": {fake: &logsFake{insp: labelled("p", "a", executor.RoleAgent, false)}, role: executor.RoleBundle,
			wantErr: `is not bottleplan's bundle`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := New(tc.fake, Options{})
			var out, errOut bytes.Buffer
			err := b.Logs(context.Background(), executor.LogRequest{Project: "p", Instance: testInstance(), Role: tc.role, Since: since, Follow: true}, &out, &errOut)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if tc.notApplied != errors.Is(err, executor.ErrNotApplied) {
					t.Errorf("errors.Is(%v, ErrNotApplied) = %v", err, !tc.notApplied)
				}
				if tc.fake.got.ShowStdout {
					t.Errorf("read the log of a container that is not ours")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.wantOut || errOut.String() != tc.wantErrOut {
				t.Errorf("stdout %q stderr %q, want %q %q", out.String(), errOut.String(), tc.wantOut, tc.wantErrOut)
			}
			if g := tc.fake.got; g.Since != "1767366245.000006000" || !g.Follow || !g.ShowStdout || !g.ShowStderr {
				t.Errorf("logs options %+v", g)
			}
		})
	}
}
