package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bottleplan/bottleplan/executor"
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
// file when it names it, else from the terminal (read through in) with
// echo off, else an error naming the variable.
func prompter(e *env, in *bufio.Reader, file map[string]string) func(executor.SecretNeed) (string, error) {
	return func(n executor.SecretNeed) (string, error) {
		if v, ok := file[n.Name]; ok {
			return v, nil
		}
		if !e.isTTY {
			return "", fmt.Errorf("%s (agent %q) is asked for at apply, but stdin is not a terminal; give it in a file with --env-file", n.Name, n.Instance)
		}
		text := n.Prompt
		if text == "" {
			text = "Value"
		}
		fmt.Fprintf(e.stderr, "%s for %s (%s): ", text, n.Name, n.Instance)
		restore := noEcho(e)
		line, err := in.ReadString('\n')
		restore()
		fmt.Fprintln(e.stderr)
		if err != nil && line == "" {
			return "", fmt.Errorf("read %s: %w", n.Name, err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
}

// checkPrompted fails, before anything changes, when a value apply must
// ask for can be neither read from the env file nor typed on a terminal.
func checkPrompted(e *env, needs []executor.SecretNeed, file map[string]string) error {
	if e.isTTY {
		return nil
	}
	p := prompter(e, nil, file)
	for _, n := range needs {
		if n.Prompted {
			if _, err := p(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// noEcho turns terminal echo off on stdin while a secret is typed and
// returns the function that turns it back on.
func noEcho(e *env) func() {
	f, ok := e.stdin.(*os.File)
	if !ok {
		return func() {}
	}
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}
	}
	old := *t
	t.Lflag &^= unix.ECHO
	if unix.IoctlSetTermios(fd, unix.TCSETS, t) != nil {
		return func() {}
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, &old) }
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
