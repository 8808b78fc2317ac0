package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/executor"
)

func init() {
	register(&command{
		name:  "attach",
		usage: "attach plan.json INSTANCE [--detach-keys K]",
		short: "Attach the terminal to an agent's main process (detach: ctrl-p,ctrl-q)",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			keys := fs.String("detach-keys", executor.DefaultDetachKeys, "the key `sequence` that detaches, in Docker's form (ctrl-<x>, letters, comma-separated)")
			return func(e *env, args []string) error { return runAttach(e, args, *keys) }
		},
		example: "bottleplan attach plan.json reviewer                  # detach with ctrl-p,ctrl-q\nbottleplan attach plan.json reviewer --detach-keys ctrl-x",
	})
}

// runAttach connects the terminal to the agent's main process, as
// `docker attach` does: raw keys in, output out, the agent's terminal
// resized with this one. It ends when the agent exits (with its exit
// code) or on the detach keys (exit 0, the agent keeps running).
func runAttach(e *env, args []string, keys string) error {
	if err := checkDetachKeys(keys); err != nil {
		return err
	}
	p, in, rest, err := sessionArgs("attach", args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q (attach takes a plan file and an instance)", rest[0])
	}
	s, err := sessionFor(e, p)
	if err != nil {
		return err
	}
	req := executor.AttachRequest{Project: p.Project, Instance: in, DetachKeys: keys,
		IO: executor.TermIO{In: e.stdin, Out: e.stdout, Err: e.stderr}}
	if openTerminal(e) != nil {
		fmt.Fprintf(e.stderr, "Attached to the agent of %s; detach with %s. Press Enter if nothing shows.\n", in.Slug, keys)
	}
	sizes, restore, _, err := rawTerminal(e)
	if err != nil {
		return err
	}
	defer restore()
	req.IO.Resize = sizes
	code, err := s.Attach(e.ctx, req)
	switch {
	case errors.Is(err, executor.ErrDetached):
		fmt.Fprintf(e.stderr, "\r\nDetached; the agent of %s keeps running (bottleplan attach %s %s to come back).\r\n", in.Slug, args[0], in.Slug)
		return nil
	case err != nil:
		return err
	case code != 0:
		fmt.Fprintf(e.stderr, "\r\nThe agent of %s exited with code %d.\r\n", in.Slug, code)
		return silent(code)
	}
	fmt.Fprintf(e.stderr, "\r\nThe agent of %s exited.\r\n", in.Slug)
	return nil
}
