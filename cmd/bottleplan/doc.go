// Command bottleplan is the only place that parses flags, reads the
// environment, prints and exits. Each subcommand lives in its own file
// and registers itself in commands (see cli.go); the work is done by the
// schema, compiler, plan and executor packages.
package main
