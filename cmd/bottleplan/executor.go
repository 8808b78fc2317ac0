package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/plan"
)

// Shared by apply, status and destroy: the backend, the rendering of
// changes and progress, and confirmation.

// dockerBackend connects to the Engine and returns the Docker backend. It
// refuses plans with instances on other backends, which this build
// cannot apply yet.
func dockerBackend(p *plan.Plan, opts docker.Options) (*docker.Backend, error) {
	for _, in := range p.Instances {
		if in.Backend != plan.BackendDocker {
			return nil, fmt.Errorf("instance %q uses backend %q; this bottleplan applies only %q instances", in.Slug, in.Backend, plan.BackendDocker)
		}
	}
	c, err := docker.Connect()
	if err != nil {
		return nil, err
	}
	return docker.New(c, opts), nil
}

// printChanges writes the ops, one line each with symbol and cause, then
// the orphans and a summary line.
func printChanges(w io.Writer, ch *executor.Changes) {
	if !ch.Empty() {
		fmt.Fprintf(w, "Changes to project %q:\n", ch.Project)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, op := range ch.Ops() {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", op.Kind.Symbol(), op.Instance, op.Role, op.Name, op.Cause)
		}
		tw.Flush()
	}
	printOrphans(w, ch)
	if ch.Empty() {
		return
	}
	n := ch.Counts()
	fmt.Fprintf(w, "Plan: %d to create, %d to update, %d to replace, %d to delete.\n",
		n[executor.Create], n[executor.Update], n[executor.Replace], n[executor.Delete])
}

func printOrphans(w io.Writer, ch *executor.Changes) {
	if len(ch.Orphans) == 0 {
		return
	}
	fmt.Fprintf(w, "Orphans (instances of project %q not in the plan; left alone, apply --prune deletes them):\n", ch.Project)
	byInst := map[string][]string{}
	for _, r := range ch.OrphanResources {
		byInst[r.Instance] = append(byInst[r.Instance], r.Name)
	}
	for _, s := range ch.Orphans {
		sort.Strings(byInst[s])
		fmt.Fprintf(w, "  %s: %s\n", s, strings.Join(byInst[s], ", "))
	}
}

// progress prints one line per completed step.
func progress(w io.Writer) func(executor.Event) error {
	return func(ev executor.Event) error {
		fmt.Fprintf(w, "%s: %s %s %s\n", ev.Instance, ev.Role, ev.Name, ev.Step)
		return nil
	}
}

// errNoConfirm refuses a change nobody can confirm.
var errNoConfirm = errors.New("refusing to change live resources without confirmation: stdin is not a terminal; review the changes and pass --auto-approve")

// confirm asks question on the terminal and reports whether the answer
// was yes. Without a terminal it refuses: a change nobody confirmed needs
// --auto-approve. in reads stdin; the caller shares it with later
// questions so no typed-ahead input is lost.
func confirm(e *env, in *bufio.Reader, question string) error {
	if !e.isTTY {
		return errNoConfirm
	}
	fmt.Fprintf(e.stdout, "%s [y/N] ", question)
	line, _ := in.ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	fmt.Fprintln(e.stdout, "Cancelled; nothing changed.")
	return silent(exitError)
}

// bundleBinary is the static binary the bundle image is built around:
// the flag, else this executable (CheckStatic tells when it is not
// static, and how to build one).
func bundleBinary(flag string) (string, error) {
	if flag != "" {
		return filepath.Abs(flag)
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the bottleplan executable for the bundle image: %w; pass --bundle-binary", err)
	}
	return exe, nil
}
