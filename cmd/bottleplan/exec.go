package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/smolvm"
	"github.com/bottleplan/bottleplan/plan"
)

func init() {
	register(&command{
		name:  "exec",
		usage: "exec plan.json INSTANCE [--] CMD [ARG]...",
		short: "Run a command in an agent's container or machine (with a terminal when stdin is one)",
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
	if in.Backend == plan.BackendSmolmachines {
		return execMachine(e, p, in, cmd)
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

// execMachine runs cmd in a smolmachines instance's machine through
// `smolvm machine exec -i [-t]`, with the operator's stdio: smolvm puts
// the terminal in raw mode itself when stdin is one. The exit code is
// the guest command's.
func execMachine(e *env, p *plan.Plan, in *plan.Instance, cmd []string) error {
	b, err := backendFor(e, p, docker.Options{})
	if err != nil {
		return err
	}
	h, ok := b.(*smolvm.Hybrid)
	if !ok {
		return fmt.Errorf("instance %q runs on smolmachines, but this plan's backend reaches no machines", in.Slug)
	}
	err = h.Machines.Exec(e.ctx, p.Project, in.Agent.MachineName, openTerminal(e) != nil, cmd,
		smolvm.Stdio{In: e.stdin, Out: e.stdout, Err: e.stderr})
	if ee := (*smolvm.ExitError)(nil); errors.As(err, &ee) {
		return silent(ee.Code)
	}
	return err
}
