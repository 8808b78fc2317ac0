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
)

// Exit codes, the same for every command (../shared/spec/plan.md).
const (
	exitOK      = 0 // success, no changes
	exitError   = 1 // any error
	exitChanges = 2 // changes or drift present (--detailed-exitcode)
	exitRefused = 3 // plan refused: stale, altered, unknown format
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

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

// command is one subcommand.
type command struct {
	name  string
	usage string // one line: "validate [-f M]..."
	short string // one sentence for the command list
	// flags registers the command's flags on fs and returns the function
	// that runs it with the positional arguments.
	flags func(fs *pflag.FlagSet) func(e *env, args []string) error
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

// run dispatches args to a subcommand and maps its error to an exit code.
// It is the one place errors are printed.
func run(e *env, args []string) int {
	if len(args) == 0 {
		printUsage(e.stderr)
		return exitError
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				printCommandHelp(e.stdout, c)
				return exitOK
			}
		}
		printUsage(e.stdout)
		return exitOK
	case "--version", "version":
		fmt.Fprintf(e.stdout, "bottleplan %s\n", version)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "bottleplan: unknown command %q\nRun 'bottleplan --help' for the list of commands.\n", args[0])
		return exitError
	}
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	runFn := c.flags(fs)
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(e.stderr, "bottleplan %s: %v\nRun 'bottleplan %s --help' for usage.\n", c.name, err, c.name)
		return exitError
	}
	if *help {
		printCommandHelp(e.stdout, c)
		return exitOK
	}
	return report(e, c, runFn(e, fs.Args()))
}

// report prints err once and returns its exit code.
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

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "bottleplan: declarative sandboxes for autonomous coding agents")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage:")
	fmt.Fprintln(w, "  bottleplan <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if c.short != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].short)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'bottleplan <command> --help' for a command's flags.")
}

func printCommandHelp(w io.Writer, c *command) {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SortFlags = false
	c.flags(fs)
	fs.BoolP("help", "h", false, "show this help")
	fmt.Fprintf(w, "Usage: bottleplan %s\n\n%s\n", c.usage, c.short)
	if u := strings.TrimRight(fs.FlagUsages(), "\n"); u != "" {
		fmt.Fprintf(w, "\nFlags:\n%s\n", u)
	}
}

// isTerminal reports whether f is a character device (a TTY).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	return fi.Mode()&os.ModeCharDevice != 0
}
