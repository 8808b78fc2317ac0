package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/smolvm"
	"github.com/bottleplan/bottleplan/plan"
)

// What attach and exec share: the plan and instance arguments, the
// backend's Session, and the operator's terminal (raw mode, size).

// sessionArgs reads `plan.json INSTANCE` from the front of args and
// returns the plan, the instance and the rest of args. It reads no live
// state, so every usage error comes before the Engine is asked anything.
func sessionArgs(verb string, args []string) (*plan.Plan, *plan.Instance, []string, error) {
	if len(args) < 2 {
		return nil, nil, nil, usagef("want a plan file and an instance, got %d arguments", len(args))
	}
	p, err := readPlan(args[0])
	if err != nil {
		return nil, nil, nil, err
	}
	ins, err := selectInstances(p, args[1])
	if err != nil {
		return nil, nil, nil, err
	}
	in := ins[0]
	switch {
	case in.Backend == plan.BackendDocker:
	case verb == "exec" && in.Backend == plan.BackendSmolmachines:
		// exec reaches a machine through `smolvm machine exec` (runExec).
	default:
		return nil, nil, nil, fmt.Errorf("instance %q runs on %s: bottleplan %s reaches docker agents only; a machine has no main process to attach to: use bottleplan exec %s %s -- sh (docs/smolvm.md)", in.Slug, in.Backend, verb, args[0], in.Slug)
	}
	return p, in, args[2:], nil
}

// sessionFor returns the Session of the backend that runs p's docker
// instances.
func sessionFor(e *env, p *plan.Plan) (executor.Session, error) {
	b, err := backendFor(e, p, docker.Options{})
	if err != nil {
		return nil, err
	}
	if h, ok := b.(*smolvm.Hybrid); ok {
		b = h.Docker // sessions reach docker instances only
	}
	s, ok := b.(executor.Session)
	if !ok {
		return nil, fmt.Errorf("this backend offers no sessions with its agents")
	}
	return s, nil
}

// checkDetachKeys accepts Docker's detach key form: comma-separated
// keys, each one printable ASCII character or ctrl-<x> with x a letter
// or one of @[\]^_.
func checkDetachKeys(keys string) error {
	for _, k := range strings.Split(keys, ",") {
		c, isCtrl := strings.CutPrefix(k, "ctrl-")
		ok := len(c) == 1 && c[0] > ' ' && c[0] < 0x7f
		if isCtrl {
			ok = len(c) == 1 && (c[0] >= 'a' && c[0] <= 'z' || strings.ContainsRune("@[\\]^_", rune(c[0])))
		}
		if !ok {
			return usagef("--detach-keys %q: %q is not a key; give keys such as ctrl-p,ctrl-q (ctrl-<letter> or one character, comma-separated)", keys, k)
		}
	}
	return nil
}

// terminal is the operator's terminal when stdin is one.
type terminal struct {
	in    *os.File
	state *term.State
	sizes chan executor.TermSize
	stop  func()
}

// openTerminal returns the operator's terminal, or nil when stdin is
// not one (a pipe, a file, /dev/null).
func openTerminal(e *env) *terminal {
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &terminal{in: f}
}

// rawTerminal puts the operator's terminal, when stdin is one, in raw
// mode and returns its sizes and how to restore it; ok is false (and
// nothing changed) when stdin is not a terminal.
func rawTerminal(e *env) (sizes <-chan executor.TermSize, restore func(), ok bool, err error) {
	t := openTerminal(e)
	if t == nil {
		return nil, func() {}, false, nil
	}
	restore, err = t.raw(e.ctx)
	if err != nil {
		return nil, nil, false, err
	}
	return t.sizes, restore, true, nil
}

// raw puts the terminal in raw mode (keys go to the agent as typed,
// Ctrl-C included) and starts following its size: the first size at
// once, then one on every SIGWINCH. restore undoes both.
func (t *terminal) raw(ctx context.Context) (restore func(), err error) {
	st, err := term.MakeRaw(int(t.in.Fd()))
	if err != nil {
		return nil, fmt.Errorf("put the terminal in raw mode: %w", err)
	}
	t.state = st
	t.sizes = make(chan executor.TermSize, 1)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	ctx, cancel := context.WithCancel(ctx)
	send := func() {
		w, h, err := term.GetSize(int(t.in.Fd()))
		if err != nil {
			return
		}
		select {
		case t.sizes <- executor.TermSize{Rows: uint(h), Cols: uint(w)}:
		default: // the last size is still pending; the next winch resends
		}
	}
	send()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-winch:
				send()
			}
		}
	}()
	return func() {
		cancel()
		signal.Stop(winch)
		term.Restore(int(t.in.Fd()), st)
	}, nil
}

// buildProgress is where apply streams the output of the image builds it
// makes: stderr when it is a terminal, else nowhere (a log or CI gets
// the one line saying what is built, and the failing step on error).
func buildProgress(e *env) io.Writer {
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return e.stderr
	}
	return nil
}
