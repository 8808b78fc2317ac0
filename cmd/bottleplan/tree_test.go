package main

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

func runCapture(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code := run(e, args)
	return code, out.String(), errb.String()
}

// Every command's help shows an example; a command registered without
// one fails here with its name.
func TestEveryCommandHasAnExample(t *testing.T) {
	root := newRoot(&env{})
	for _, cmd := range root.Commands() {
		if !cmd.IsAvailableCommand() && cmd.Name() != "help" {
			continue
		}
		if strings.TrimSpace(cmd.Example) == "" {
			t.Errorf("command %q has no example: give register(&command{...}) an example field", cmd.Name())
		}
		for _, line := range strings.Split(cmd.Example, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "bottleplan ") && !strings.HasPrefix(strings.TrimSpace(line), "source <(bottleplan ") {
				t.Errorf("command %q: example line %q does not run bottleplan", cmd.Name(), line)
			}
		}
	}
}

// Help never shows pflag's type names or bool syntax: a bool flag takes
// no value, a repeatable one says so.
func TestHelpFlagSyntax(t *testing.T) {
	root := newRoot(&env{})
	for _, cmd := range root.Commands() {
		var b bytes.Buffer
		printCommandHelp(&b, cmd)
		for _, bad := range []string{"[=true|false]", "stringArray", "stringSlice", "help for "} {
			if strings.Contains(b.String(), bad) {
				t.Errorf("help of %q shows %q:\n%s", cmd.Name(), bad, b.String())
			}
		}
		if !strings.Contains(b.String(), "\nExamples:\n  bottleplan ") && !strings.Contains(b.String(), "\nExamples:\n  source") {
			t.Errorf("help of %q has no Examples section:\n%s", cmd.Name(), b.String())
		}
	}
	_, out, _ := runCapture(t, "apply", "--help")
	for _, want := range []string{"\n      --auto-approve   ", "--replace string ", "(repeatable)", "--lock-timeout duration", "(default 5m0s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply --help lacks %q:\n%s", want, out)
		}
	}
}

func TestSuggestions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"aply", "x.json"}, "Did you mean apply?"},
		{[]string{"stat"}, "Did you mean status?"},
		{[]string{"logs", "--jsn", "x.json"}, "Did you mean --json?"},
		{[]string{"apply", "--auto-aprove", "x.json"}, "Did you mean --auto-approve?"},
		{[]string{"apply", "--dry", "x.json"}, "Did you mean --dry-run?"},
		{[]string{"help", "valdate"}, "Did you mean validate?"},
	} {
		code, _, stderr := runCapture(t, tc.args...)
		if code != exitError || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and %q", tc.args, code, stderr, tc.want)
		}
	}
	// Far from everything: no suggestion.
	_, _, stderr := runCapture(t, "logs", "--zzzzzz", "x.json")
	if strings.Contains(stderr, "Did you mean") {
		t.Errorf("suggested something for --zzzzzz: %q", stderr)
	}
}

func TestFormatVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/bottleplan/bottleplan", Version: "v0.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-12-01T20:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := formatVersion(bi, true), "bottleplan v0.4.0, revision 0123456789abcdef (2026-12-01T20:00:00Z), modified, go1.26.8"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	bi = &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	if got, want := formatVersion(bi, true), "bottleplan (devel), revision unknown (built without VCS stamping), go1.26.8"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := formatVersion(nil, false); !strings.HasPrefix(got, "bottleplan ") {
		t.Errorf("got %q", got)
	}
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__bottleplan_debug", "zsh": "#compdef bottleplan", "fish": "complete -c bottleplan"} {
		code, out, stderr := runCapture(t, "completion", shell)
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, stderr %q, output lacks %q", shell, code, stderr, want)
		}
	}
	code, _, stderr := runCapture(t, "completion", "tcsh")
	if code != exitError || !strings.Contains(stderr, `unknown shell "tcsh": want bash, zsh or fish`) {
		t.Errorf("completion tcsh: exit %d, %q", code, stderr)
	}
	// The scripts call back into bottleplan for commands and flags.
	_, out, _ := runCapture(t, "__complete", "sta")
	if !strings.Contains(out, "status\t") {
		t.Errorf("__complete sta: %q", out)
	}
	_, out, _ = runCapture(t, "__complete", "apply", "x.json", "--dry")
	if !strings.Contains(out, "--dry-run\t") {
		t.Errorf("__complete apply --dry: %q", out)
	}
}
