package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/schema"
)

// The command tree is cobra's (suggestions, shell completion, help),
// built anew for every run from the registered commands, so a command's
// flags are fresh each time (tests call run more than once). Errors keep
// bottleplan's own format, printed by run: "bottleplan CMD: message",
// with a "Run 'bottleplan CMD --help'" hint after a command-line mistake.

// flagError is a flag the command line got wrong (unknown, bad value).
type flagError struct {
	cmd *cobra.Command
	err error
}

func (e *flagError) Error() string { return e.err.Error() }

// run parses args, runs the command they name and maps its error to an
// exit code. It is the one place errors are printed.
func run(e *env, args []string) int {
	root := newRoot(e)
	if len(args) == 0 {
		printRootHelp(e.stderr, root)
		return exitError
	}
	// cobra's hidden __complete and __completeNoDesc serve the completion
	// scripts.
	if name := args[0]; !strings.HasPrefix(name, "-") && !strings.HasPrefix(name, "__complete") {
		if c, _, err := root.Find(args[:1]); err != nil || c == root {
			fmt.Fprintf(e.stderr, "bottleplan: unknown command %q\n", name)
			printSuggestions(e.stderr, root.SuggestionsFor(name))
			fmt.Fprintln(e.stderr, "Run 'bottleplan --help' for the list of commands.")
			return exitError
		}
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	var fe *flagError
	if errors.As(err, &fe) {
		name := commandPath(fe.cmd)
		fmt.Fprintf(e.stderr, "%s: %v\n", name, fe.err)
		printSuggestions(e.stderr, flagSuggestions(fe.cmd, fe.err))
		fmt.Fprintf(e.stderr, "Run '%s --help' for usage.\n", name)
		return exitError
	}
	if cmd == root {
		// Arguments after root flags (bottleplan --version extra).
		fmt.Fprintf(e.stderr, "bottleplan: %v\nRun 'bottleplan --help' for the list of commands.\n", err)
		return exitError
	}
	c, ok := commands[cmd.Name()]
	if !ok {
		c = &command{name: cmd.Name()} // completion, version, help
	}
	return report(e, c, err)
}

// commandPath is "bottleplan" or "bottleplan CMD".
func commandPath(cmd *cobra.Command) string {
	if !cmd.HasParent() {
		return "bottleplan"
	}
	return "bottleplan " + cmd.Name()
}

// newRoot builds the cobra tree: every registered command, plus
// completion, help and version.
func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "bottleplan",
		Short:         "declarative sandboxes for autonomous coding agents",
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// Commands are dispatched only by their full name.
		SuggestionsMinimumDistance: 2,
		CompletionOptions:          cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetVersionTemplate("{{.Version}}\n")
	root.Flags().SortFlags = false
	root.Flags().Bool("version", false, "print the version and the VCS revision it was built from")
	root.Flags().BoolP("help", "h", false, "show this help")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return &flagError{cmd: cmd, err: err} })
	root.SetHelpFunc(func(cmd *cobra.Command, _ []string) {
		if cmd == root {
			printRootHelp(e.stdout, root)
			return
		}
		printCommandHelp(e.stdout, cmd)
	})
	for _, c := range sortedCommands() {
		root.AddCommand(newCobra(e, c))
	}
	root.AddCommand(newCobra(e, completionCommand(root)))
	root.AddCommand(newCobra(e, versionCommand()))
	root.SetHelpCommand(newCobra(e, helpCommand(root)))
	root.InitDefaultHelpCmd()
	return root
}

// newCobra makes c a cobra command. Its flags are registered now, on the
// command's own flag set, so help, completion and parsing see the same
// ones.
func newCobra(e *env, c *command) *cobra.Command {
	cc := &cobra.Command{
		Use:     c.usage,
		Short:   upperFirst(c.short),
		Example: c.example,
		Args:    cobra.ArbitraryArgs,
	}
	if cc.Use == "" {
		cc.Use = c.name
	}
	fs := cc.Flags()
	fs.SortFlags = false
	runFn := c.flags(fs)
	if fs.Lookup("help") == nil {
		fs.BoolP("help", "h", false, "show this help")
	}
	cc.RunE = func(_ *cobra.Command, args []string) error { return runFn(e, args) }
	if strings.Contains(c.usage, "plan.json") {
		// The first argument is a plan file.
		cc.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return []cobra.Completion{"json"}, cobra.ShellCompDirectiveFilterFileExt
			}
			return nil, cobra.ShellCompDirectiveDefault
		}
	}
	if fs.Lookup("instance") != nil {
		cc.RegisterFlagCompletionFunc("instance", completeInstances)
	}
	return cc
}

// completeInstances completes --instance with the slugs of the plan file
// given as the first argument.
func completeInstances(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	p, err := readPlan(args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var slugs []cobra.Completion
	for _, in := range p.Instances {
		slugs = append(slugs, in.Slug)
	}
	return slugs, cobra.ShellCompDirectiveNoFileComp
}

// printRootHelp prints the command list.
func printRootHelp(w io.Writer, root *cobra.Command) {
	fmt.Fprintln(w, "bottleplan: declarative sandboxes for autonomous coding agents")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage:")
	fmt.Fprintln(w, "  bottleplan <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	var list []*cobra.Command
	width := 0
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() || c.Name() == "help" {
			list = append(list, c)
			width = max(width, len(c.Name()))
		}
	}
	for _, c := range list {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name(), c.Short)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Flags:\n%s\n", flagUsages(root.Flags()))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'bottleplan <command> --help' for a command's flags and examples.")
}

// printCommandHelp prints one command's usage line, description, flags
// and examples.
func printCommandHelp(w io.Writer, cmd *cobra.Command) {
	fmt.Fprintf(w, "Usage: bottleplan %s\n\n%s\n", cmd.Use, cmd.Short)
	if u := flagUsages(cmd.Flags()); u != "" {
		fmt.Fprintf(w, "\nFlags:\n%s\n", u)
	}
	if ex := strings.TrimRight(cmd.Example, "\n"); ex != "" {
		fmt.Fprintln(w, "\nExamples:")
		for _, line := range strings.Split(ex, "\n") {
			fmt.Fprintf(w, "  %s\n", strings.TrimSpace(line))
		}
	}
}

// flagUsages lists the flags in the order they were registered:
// "-f, --file file  usage". A value's name is the `quoted` word of its
// usage, else its kind (string, duration); a bool flag takes none, and a
// repeatable flag says so.
func flagUsages(fs *pflag.FlagSet) string {
	type row struct{ left, usage string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		left := "      --" + f.Name
		if f.Shorthand != "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		name, usage := pflag.UnquoteUsage(f)
		kind := f.Value.Type()
		repeatable := strings.HasSuffix(kind, "Array") || strings.HasSuffix(kind, "Slice")
		switch {
		case kind == "bool":
			name = ""
		case name == "stringArray" || name == "strings":
			name = "string"
		}
		if name != "" {
			left += " " + name
		}
		if repeatable && !strings.Contains(usage, "repeat") {
			usage += " (repeatable)"
		}
		if !isZeroDefault(f) {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		width = max(width, len(left))
		rows = append(rows, row{left, usage})
	})
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%-*s   %s", width, r.left, r.usage)
	}
	return b.String()
}

// isZeroDefault reports whether f's default is its kind's zero value,
// which help leaves unsaid.
func isZeroDefault(f *pflag.Flag) bool {
	switch f.DefValue {
	case "", "false", "0", "0s", "[]", "<nil>":
		return true
	}
	return false
}

// flagSuggestions names the flags of cmd closest to the unknown one err
// complains about.
func flagSuggestions(cmd *cobra.Command, err error) []string {
	const prefix = "unknown flag: --"
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		return nil
	}
	typed, _, _ := strings.Cut(strings.TrimPrefix(msg, prefix), "=")
	var out []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		if schema.EditDistance(strings.ToLower(typed), f.Name) <= 2 || (len(typed) >= 3 && strings.HasPrefix(f.Name, typed)) {
			out = append(out, "--"+f.Name)
		}
	})
	return out
}

// printSuggestions prints "Did you mean ...?" for a mistyped name.
func printSuggestions(w io.Writer, names []string) {
	switch len(names) {
	case 0:
	case 1:
		fmt.Fprintf(w, "Did you mean %s?\n", names[0])
	default:
		fmt.Fprintf(w, "Did you mean one of %s?\n", strings.Join(names, ", "))
	}
}

// helpCommand is `bottleplan help [command]`.
func helpCommand(root *cobra.Command) *command {
	return &command{
		name:    "help",
		usage:   "help [command]",
		short:   "show the help of bottleplan or of one command",
		example: "bottleplan help apply",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			return func(e *env, args []string) error {
				if len(args) == 0 {
					printRootHelp(e.stdout, root)
					return nil
				}
				cmd, _, err := root.Find(args)
				if err != nil || cmd == root {
					var b strings.Builder
					printSuggestions(&b, root.SuggestionsFor(args[0]))
					return usagef("unknown command %q%s", args[0], strings.TrimSuffix("\n"+b.String(), "\n"))
				}
				printCommandHelp(e.stdout, cmd)
				return nil
			}
		},
	}
}
