package main

import (
	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/executor"
)

func init() {
	register(&command{
		name:  "exec",
		usage: "exec plan.json INSTANCE [--] CMD [ARG]...",
		short: "Run a command in an agent's container (with a terminal when stdin is one)",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			// Everything after INSTANCE is the command's, flags included.
			fs.SetInterspersed(false)
			return func(e *env, args []string) error { return runExec(e, args) }
		},
		example: "bottleplan exec plan.json reviewer -- git status\nbottleplan exec plan.json reviewer -- sh   # a shell, with a terminal when stdin is one",
	})
}

// runExec runs a command in the agent as the agent's user, as
// `docker exec [-it]` does, and exits with the command's exit code.
func runExec(e *env, args []string) error {
	p, in, cmd, err := sessionArgs("exec", args)
	if err != nil {
		return err
	}
	if len(cmd) > 0 && cmd[0] == "--" {
		cmd = cmd[1:]
	}
	if len(cmd) == 0 {
		return usagef("no command to run (bottleplan exec %s %s -- CMD...)", args[0], in.Slug)
	}
	s, err := sessionFor(e, p)
	if err != nil {
		return err
	}
	req := executor.ExecRequest{Project: p.Project, Instance: in, Cmd: cmd,
		IO: executor.TermIO{In: e.stdin, Out: e.stdout, Err: e.stderr}}
	sizes, restore, tty, err := rawTerminal(e)
	if err != nil {
		return err
	}
	defer restore()
	req.TTY, req.IO.Resize = tty, sizes
	code, err := s.Exec(e.ctx, req)
	if err != nil {
		return err
	}
	if code != 0 {
		return silent(code)
	}
	return nil
}
