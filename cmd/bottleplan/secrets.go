package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// Values asked for at apply (env_prompted) come from --env-file or the
// terminal; host values (env_from_host, secrets_from_host) from the
// process env. They stay in memory until they reach a container's env.

// readEnvFile parses NAME=value lines (blank lines and # comments
// skipped). Errors name the line, never a value.
func readEnvFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	vals := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("%s:%d: want NAME=value", path, i+1)
		}
		vals[strings.TrimSpace(name)] = val
	}
	return vals, nil
}

// prompter returns how apply obtains an env_prompted value: from the env
// file when one was given (it must name every value asked for), else
// from the terminal with echo off, else an error naming the variable.
func prompter(e *env, in *bufio.Reader, file map[string]string) func(executor.SecretNeed) (string, error) {
	return func(n executor.SecretNeed) (string, error) {
		if v, ok := file[n.Name]; ok {
			return v, nil
		}
		if file != nil {
			return "", fmt.Errorf("--env-file has no %s, which agent %q asks for at apply; add a %s=value line", n.Name, n.Instance, n.Name)
		}
		if !e.isTTY {
			return "", fmt.Errorf("%s (agent %q) is asked for at apply, but stdin is not a terminal; give it in a file with --env-file", n.Name, n.Instance)
		}
		text := n.Prompt
		if text == "" {
			text = "Value"
		}
		fmt.Fprintf(e.stderr, "%s for %s (%s): ", text, n.Name, n.Instance)
		line, err := readLine(e, in, true)
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", n.Name, err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
}

// checkPrompted fails, before anything changes, when a value apply must
// ask for can be neither read from the env file nor typed on a
// terminal, naming every such value. It warns about env file entries no
// instance of the plan asks for (a typo, or a value for another plan).
func checkPrompted(e *env, p *plan.Plan, needs []executor.SecretNeed, file map[string]string) error {
	if file != nil {
		asked := map[string]bool{}
		for _, in := range p.Instances {
			for name := range in.EnvPrompted {
				asked[name] = true
			}
		}
		var unknown []string
		for name := range file {
			if !asked[name] {
				unknown = append(unknown, name)
			}
		}
		sort.Strings(unknown)
		for _, name := range unknown {
			fmt.Fprintf(e.stderr, "warning: --env-file: no instance of the plan asks for %s; it is not used\n", name)
		}
	}
	if e.isTTY && file == nil {
		return nil
	}
	ask := prompter(e, nil, file)
	var errs []error
	for _, n := range needs {
		if n.Prompted {
			if _, err := ask(n); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// readLine reads one line from in, typed with echo off when hidden and
// stdin is a terminal. Ctrl-C (the env's context ending) returns at once
// with context.Canceled, the terminal restored, though the read itself
// cannot be interrupted: its goroutine is left to end with the process.
func readLine(e *env, in *bufio.Reader, hidden bool) (string, error) {
	restore := func() {}
	if f, ok := e.stdin.(*os.File); ok && hidden && term.IsTerminal(int(f.Fd())) {
		restore = noEcho(int(f.Fd()))
	}
	defer restore()
	type result struct {
		line string
		err  error
	}
	ctx := e.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	done := make(chan result, 1)
	go func() {
		line, err := in.ReadString('\n')
		done <- result{line, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && r.line != "" {
			r.err = nil // a last line without a newline
		}
		return r.line, r.err
	case <-ctx.Done():
		return "", fmt.Errorf("interrupted: %w", ctx.Err())
	}
}

// noEcho turns terminal echo off on fd while a secret is typed, and
// returns the function that restores the terminal as it was.
func noEcho(fd int) func() {
	old, err := term.GetState(fd)
	if err != nil {
		return func() {}
	}
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}
	}
	t.Lflag &^= unix.ECHO
	if unix.IoctlSetTermios(fd, unix.TCSETS, t) != nil {
		return func() {}
	}
	return func() { term.Restore(fd, old) }
}

// hostSecrets reads host secrets: env values (an empty value counts as
// unset, so a forgotten export is caught before anything changes) and
// ssh key files, whose key_path may start with ~/ (the home directory)
// or be relative to the manifest root.
func hostSecrets(e *env, root string) executor.HostSecrets {
	return executor.HostSecrets{
		Lookup: func(name string) (string, bool) {
			v := e.getenv(name)
			return v, v != ""
		},
		ReadKey: func(keyPath string) ([]byte, error) {
			p := keyPath
			switch {
			case p == "~" || strings.HasPrefix(p, "~/"):
				home := e.getenv("HOME")
				if home == "" {
					return nil, fmt.Errorf("HOME is not set to expand ~")
				}
				p = filepath.Join(home, p[1:])
			case !filepath.IsAbs(p):
				p = filepath.Join(root, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("read ssh key: %w", err)
			}
			return b, nil
		},
	}
}
