// Command bottleplan is the only place that parses flags, reads the
// environment, prints and exits. Each subcommand lives in its own file
// and registers itself in commands (see cli.go) with its usage line,
// one-line description, flags and examples; tree.go turns the
// registered commands into a cobra command tree for every run (help,
// "did you mean" suggestions, shell completion) while keeping
// bottleplan's own error format and exit codes. The work is done by the
// schema, compiler, plan and executor packages.
package main
