package smolvm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Clock is time as the readiness loop sees it; tests inject a fake.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Default readiness timing: the first poll waits ReadyFirstDelay, each
// later one twice the previous, capped at ReadyMaxDelay, until
// ReadyTimeout has passed since start returned.
const (
	DefaultReadyTimeout = 2 * time.Minute
	ReadyFirstDelay     = 250 * time.Millisecond
	ReadyMaxDelay       = 5 * time.Second
)

// Runner runs the smolvm CLI. The zero value is not usable: set CacheDir.
type Runner struct {
	// Path is the smolvm executable; "" means "smolvm" found on PATH.
	Path string
	// Env is the base environment of every smolvm process; nil inherits
	// this process's environment (smolvm needs HOME and PATH).
	Env []string
	// CacheDir holds packed agent images, one per image digest.
	CacheDir string
	// Clock drives readiness polling; nil means the wall clock.
	Clock Clock
	// ReadyTimeout bounds readiness polling; 0 means DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Log, when set, gets one line per command run (rendered with secret
	// placeholders, never values). Writes are serialized, so one writer
	// serves concurrent instances.
	Log io.Writer
	// ProbeBinary is the static bottleplan-bundle binary copied into each
	// guest to check its allow list by behaviour (CheckEgress).
	ProbeBinary string
	// Nonce makes each egress check's refused destinations unique; nil
	// means random. Tests fix it.
	Nonce func() uint32

	logMu sync.Mutex
}

// ExitError is a smolvm command that ran and failed.
type ExitError struct {
	// Command is the rendered command (placeholders for secrets).
	Command string
	// Code is the exit code.
	Code int
	// Stderr is the command's standard error, secret values redacted.
	Stderr string
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = "no error output"
	}
	return fmt.Sprintf("`%s` exited %d: %s", e.Command, e.Code, msg)
}

func (r *Runner) clock() Clock {
	if r.Clock == nil {
		return realClock{}
	}
	return r.Clock
}

func (r *Runner) path() (string, error) {
	if r.Path != "" {
		return r.Path, nil
	}
	p, err := exec.LookPath("smolvm")
	if err != nil {
		return "", errors.New("smolvm not found on PATH: install smolvm (https://smolmachines.com) or configure its path")
	}
	return p, nil
}

// run executes c with no secret values; it refuses a command that needs
// some.
func (r *Runner) run(ctx context.Context, c Command) ([]byte, error) {
	return r.runWith(ctx, c, nil)
}

// runWith executes c. values maps each secret's guest NAME to its value;
// the value is set in the child's environment only. Output and errors are
// scrubbed of every value before they leave this function.
func (r *Runner) runWith(ctx context.Context, c Command, values map[string]string) ([]byte, error) {
	cmd, rendered, err := r.command(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, s := range c.Secrets {
		v, ok := values[s.Guest]
		if !ok {
			return nil, fmt.Errorf("no value for %s (%s): the caller must resolve it before apply", s.Guest, s.Placeholder())
		}
		cmd.Env = append(cmd.Env, s.envName()+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err = cmd.Run()
	out := redact(stdout.Bytes(), values)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out, &ExitError{Command: rendered, Code: ee.ExitCode(), Stderr: string(redact(stderr.Bytes(), values))}
		}
		return out, fmt.Errorf("run `%s`: %w", rendered, err)
	}
	return out, nil
}

// command is the smolvm process of c, in the scrubbed environment, and c
// rendered (logged to Log here).
func (r *Runner) command(ctx context.Context, c Command) (*exec.Cmd, string, error) {
	bin, err := r.path()
	if err != nil {
		return nil, "", err
	}
	rendered := c.Render()
	if r.Log != nil {
		r.logMu.Lock()
		fmt.Fprintln(r.Log, rendered)
		r.logMu.Unlock()
	}
	cmd := exec.CommandContext(ctx, bin, c.Args...)
	cmd.Env = r.environ()
	return cmd, rendered, nil
}

// environ is the base environment of a smolvm process: Env (or this
// process's environment) without any SMOLVM_* variable. Each of them
// changes what smolvm does behind its flags, several of them the egress
// policy (SMOLVM_EGRESS_FLOOR, SMOLVM_EGRESS_ALLOW_PRIVATE,
// SMOLVM_PUBLISH_ADDR in crates/smolvm-network/src/egress.rs), and the
// runner sets none itself.
func (r *Runner) environ() []string {
	base := r.Env
	if base == nil {
		base = os.Environ()
	}
	out := make([]string, 0, len(base))
	for _, kv := range base {
		if !strings.HasPrefix(kv, "SMOLVM_") {
			out = append(out, kv)
		}
	}
	return out
}

// redact replaces every secret value in b with "<redacted>".
func redact(b []byte, values map[string]string) []byte {
	for _, v := range values {
		if v != "" {
			b = bytes.ReplaceAll(b, []byte(v), []byte("<redacted>"))
		}
	}
	return b
}
