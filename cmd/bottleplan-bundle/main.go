// Command bottleplan-bundle runs inside a bottle's bundle container. See
// doc.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() { os.Exit(Main()) }

// Exit codes: 0 success, 1 any error (usage errors included), as
// cmd/bottleplan's.
const (
	exitOK    = 0
	exitError = 1
)

// name prefixes every line the program writes to stderr.
const name = "bottleplan-bundle"

// env is what a subcommand may read from its surroundings. Main fills it
// from the process; tests may fill it otherwise.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// getenv reads the process environment (the secrets the plan names).
	getenv func(string) string
}

// subcommand is serve, probe or ctl.
type subcommand struct {
	usage string // arguments after the subcommand's name
	short string // one sentence
	// flags registers the flags on fs and returns the function that runs
	// the subcommand with the positional arguments.
	flags func(fs *flag.FlagSet) func(e *env, args []string) error
}

// subcommands are the program's commands, by name.
var subcommands = map[string]*subcommand{
	"serve": serveCommand,
	"probe": probeCommand,
	"ctl":   ctlCommand,
}

// usageError is a mistake in the command line; Main adds a usage hint.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// Main runs bottleplan-bundle with os.Args and returns the exit code. It
// is shared by the binary and the testscript harness. SIGINT and SIGTERM
// (docker stop) end serve cleanly.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{ctx: ctx, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	return run(e, os.Args[1:])
}

// run dispatches args to a subcommand and maps its error to an exit code.
// It is the one place errors are printed.
func run(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintf(e.stderr, "%s: missing subcommand: serve, probe or ctl\n", name)
		printUsage(e.stderr)
		return exitError
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		printUsage(e.stdout)
		return exitOK
	}
	c, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "%s: unknown subcommand %q: serve, probe or ctl\nRun '%s --help' for usage.\n", name, args[0], name)
		return exitError
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runFn := c.flags(fs)
	pos, err := parseInterspersed(fs, args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		printHelp(e.stdout, args[0], c)
		return exitOK
	case err != nil:
		fmt.Fprintf(e.stderr, "%s %s: %v\nRun '%s %s --help' for usage.\n", name, args[0], err, name, args[0])
		return exitError
	}
	err = runFn(e, pos)
	if err == nil {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "%s %s: %s\nRun '%s %s --help' for usage.\n", name, args[0], ue.msg, name, args[0])
		return exitError
	}
	fmt.Fprintf(e.stderr, "%s: %v\n", name, err)
	return exitError
}

// parseInterspersed parses flags anywhere among args, as the old
// `bottleplan bundle` command (pflag) did, and returns the positional
// arguments in order. Everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "%s: the program of a bottle's bundle container (run by bottleplan apply and verify, not by hand)\n\n", name)
	fmt.Fprintln(w, "Usage:")
	for _, n := range []string{"serve", "probe"} {
		fmt.Fprintf(w, "  %s %s %s\n", name, n, subcommands[n].usage)
	}
	fmt.Fprintf(w, "\nRun '%s <subcommand> --help' for its flags.\n", name)
}

func printHelp(w io.Writer, sub string, c *subcommand) {
	fmt.Fprintf(w, "Usage: %s %s %s\n\n%s\n\nFlags:\n", name, sub, c.usage, c.short)
	fs := flag.NewFlagSet(sub, flag.ContinueOnError)
	c.flags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if typ != "" {
			line += " " + typ
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		if f.DefValue != "" {
			line += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintln(w, line)
	})
}
