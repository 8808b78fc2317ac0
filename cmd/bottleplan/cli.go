package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Exit codes, the same for every command (../shared/spec/plan.md).
const (
	exitOK      = 0 // success, no changes
	exitError   = 1 // any error
	exitChanges = 2 // changes or drift present (--detailed-exitcode)
	exitRefused = 3 // plan refused: stale, altered, unknown format
)

// env is what a command may read from its surroundings. Main fills it from
// the process; tests may fill it otherwise.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// getenv reads the process environment (host secrets, NO_COLOR).
	getenv func(string) string
	// isTTY reports whether stdin and stdout are terminals.
	isTTY bool
}

// command is one subcommand. Commands are registered with register and
// become cobra commands when the command line is parsed (tree.go).
type command struct {
	name  string
	usage string // one line: "validate [-f M]..."
	short string // one sentence for the command list
	// flags registers the command's flags on fs and returns the function
	// that runs it with the positional arguments.
	flags func(fs *pflag.FlagSet) func(e *env, args []string) error
	// example is shown under Examples: in the command's help, one
	// command line per line (a # comment may follow). Every command has
	// one (TestEveryCommandHasAnExample).
	example string
}

// commands is filled by init functions, one per subcommand file.
var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("duplicate command " + c.name)
	}
	commands[c.name] = c
}

// exitError carries an exit code through the error chain. A command that
// has already printed what went wrong returns one with printed set, so
// Main prints nothing more.
type exitCodeError struct {
	code    int
	err     error
	printed bool
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCodeError) Unwrap() error { return e.err }

// withCode wraps err so Main exits with code.
func withCode(code int, err error) error { return &exitCodeError{code: code, err: err} }

// silent returns an error that makes Main exit with code and print
// nothing (the command printed already).
func silent(code int) error { return &exitCodeError{code: code, printed: true} }

// usageError is a mistake in the command line; Main adds a usage hint.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// Main runs bottleplan with os.Args and returns the exit code. It is
// shared by the binary and the testscript harness.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{
		ctx:    ctx,
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
		isTTY:  isTerminal(os.Stdin) && isTerminal(os.Stdout),
	}
	return run(e, os.Args[1:])
}

// report prints err once, as "bottleplan CMD: message", and returns its
// exit code. It is the one place a command's error is printed.
func report(e *env, c *command, err error) int {
	if err == nil {
		return exitOK
	}
	code := exitError
	var ce *exitCodeError
	if errors.As(err, &ce) {
		code = ce.code
		if ce.printed {
			return code
		}
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "bottleplan %s: %s\nRun 'bottleplan %s --help' for usage.\n", c.name, ue.msg, c.name)
		return code
	}
	fmt.Fprintf(e.stderr, "bottleplan %s: %v\n", c.name, err)
	return code
}

// isTerminal reports whether f is a terminal: a TTY answers the
// terminal ioctl, a file, pipe or /dev/null (a character device too)
// does not.
func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

// sortedCommands returns the registered commands by name.
func sortedCommands() []*command {
	cs := make([]*command, 0, len(commands))
	for _, c := range commands {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	return cs
}

// upperFirst capitalizes a command's one-line description, so the list
// reads the same whichever way its author wrote it.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
