package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// completionCommand is `bottleplan completion bash|zsh|fish`: the shell
// script that completes commands, flags, plan files (*.json) and
// --instance slugs (read from the plan on the command line). The
// scripts call back into bottleplan (cobra's hidden __complete command),
// so they stay right as commands and flags change.
func completionCommand(root *cobra.Command) *command {
	return &command{
		name:  "completion",
		usage: "completion bash|zsh|fish",
		short: "print the shell completion script for bash, zsh or fish",
		example: `source <(bottleplan completion bash)                                   # bash, this shell
bottleplan completion zsh > "${fpath[1]}/_bottleplan"                   # zsh, from the next shell on
bottleplan completion fish > ~/.config/fish/completions/bottleplan.fish  # fish`,
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			return func(e *env, args []string) error {
				if len(args) != 1 {
					return usagef("want one shell (bash, zsh or fish), got %d arguments", len(args))
				}
				switch args[0] {
				case "bash":
					return root.GenBashCompletionV2(e.stdout, true)
				case "zsh":
					return root.GenZshCompletion(e.stdout)
				case "fish":
					return root.GenFishCompletion(e.stdout, true)
				}
				return usagef("unknown shell %q: want bash, zsh or fish", args[0])
			}
		},
	}
}
