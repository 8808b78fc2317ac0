package main

import (
	"bufio"
	"context"
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
	"github.com/bottleplan/bottleplan/executor/smolvm"
	"github.com/bottleplan/bottleplan/plan"
)

// Shared by apply, status and destroy: the backend, the rendering of
// changes and progress, and confirmation.

// backendFor connects to the Engine and returns the backend that applies
// p: the Docker backend, or, when p has smolmachines instances, the
// hybrid that runs their agents as smolvm machines while networks and
// bundles stay on Docker. smolvm is $BOTTLEPLAN_SMOLVM or "smolvm" on
// PATH; packed agent images are cached under $BOTTLEPLAN_CACHE_DIR (or
// the user cache directory)/bottleplan/smolvm. A plan without
// smolmachines instances never runs smolvm. With
// BOTTLEPLAN_ENGINE_TIMING set, every Engine call is timed to stderr
// (docker.Timed).
func backendFor(e *env, p *plan.Plan, opts docker.Options) (executor.Backend, error) {
	smol := false
	for _, in := range p.Instances {
		switch in.Backend {
		case plan.BackendDocker:
		case plan.BackendSmolmachines:
			smol = true
		default:
			return nil, fmt.Errorf("instance %q uses backend %q, which this bottleplan cannot apply", in.Slug, in.Backend)
		}
	}
	c, err := docker.Connect()
	if err != nil {
		return nil, err
	}
	var eng docker.Engine = c
	if e.getenv("BOTTLEPLAN_ENGINE_TIMING") != "" {
		eng = docker.Timed(c, func(line string) { fmt.Fprintln(e.stderr, line) })
	}
	d := docker.New(eng, opts)
	if !smol {
		return d, nil
	}
	cache, err := smolvmCacheDir(e)
	if err != nil {
		return nil, err
	}
	// The bundle's binary doubles as the probe each machine's allow list
	// is checked with after start (smolvm.Backend.CheckEgress).
	m, err := smolvm.Open(e.ctx, &smolvm.Runner{Path: e.getenv("BOTTLEPLAN_SMOLVM"), CacheDir: cache, ProbeBinary: opts.BundleBinary})
	if err != nil {
		return nil, err
	}
	var roots []byte
	if opts.RootsFile != "" {
		if roots, err = os.ReadFile(opts.RootsFile); err != nil {
			return nil, fmt.Errorf("read root certificates: %w", err)
		}
	}
	return &smolvm.Hybrid{Docker: d, Images: d, Machines: m, Project: p.Project, Roots: roots}, nil
}

// smolvmCacheDir is where packed agent images live.
func smolvmCacheDir(e *env) (string, error) {
	base := e.getenv("BOTTLEPLAN_CACHE_DIR")
	if base == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("find a cache directory for smolvm packs: %w; set BOTTLEPLAN_CACHE_DIR", err)
		}
		base = filepath.Join(dir, "bottleplan")
	}
	dir := filepath.Join(base, "smolvm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create the smolvm cache directory: %w", err)
	}
	return dir, nil
}

// printSmolvmCommands writes, for a dry run, the smolvm commands apply
// would run for the smolmachines agents in ch (secret values shown as
// placeholders).
func printSmolvmCommands(w io.Writer, b executor.Backend, p *plan.Plan, ch *executor.Changes) error {
	h, ok := b.(*smolvm.Hybrid)
	if !ok {
		return nil
	}
	lines, err := h.DryRun(p, ch)
	if err != nil || len(lines) == 0 {
		return err
	}
	fmt.Fprintln(w, "smolvm commands:")
	for _, l := range lines {
		fmt.Fprintln(w, "  "+l)
	}
	return nil
}

// printChanges writes the ops, one line each with symbol and cause, then
// the orphans and a summary line.
func printChanges(w io.Writer, ch *executor.Changes) {
	if !ch.Empty() {
		fmt.Fprintf(w, "Changes to project %q:\n", ch.Project)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, op := range ch.Ops() {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", op.Kind.Symbol(), op.Owner(), op.Role, op.Name, op.Cause)
		}
		tw.Flush()
	}
	printOrphans(w, ch)
	if ch.Empty() {
		return
	}
	n := ch.Counts()
	fmt.Fprintf(w, "Plan: %d to create, %d to update, %d to replace, %d to delete%s.\n",
		n[executor.Create], n[executor.Update], n[executor.Replace], n[executor.Delete], revokeCount(n, "to revoke"))
}

// revokeCount is ", N runtime grant(s) <what>" when there are Revoke
// ops, so plans without runtime grants read as before.
func revokeCount(n map[executor.Kind]int, what string) string {
	switch n[executor.Revoke] {
	case 0:
		return ""
	case 1:
		return ", 1 runtime grant " + what
	}
	return fmt.Sprintf(", %d runtime grants %s", n[executor.Revoke], what)
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
		fmt.Fprintf(w, "%s: %s %s %s\n", executor.Owner(ev.Instance), ev.Role, ev.Name, ev.Step)
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
	line, err := readLine(e, in, false)
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(e.stdout)
		return fmt.Errorf("%w; nothing changed", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	fmt.Fprintln(e.stdout, "Cancelled; nothing changed.")
	return silent(exitError)
}

// bundleBinaryName is the bundle's own program (cmd/bottleplan-bundle),
// which `go install ./cmd/...` puts beside bottleplan.
const bundleBinaryName = "bottleplan-bundle"

// bundleBinary returns the static bottleplan-bundle binary the bundle
// image is built around: flag (--bundle-binary) when given, else
// bottleplan-bundle beside this executable, or beside the file it links
// to when it is a symlink. When there is none it returns "" and an error
// that says how to get one. apply reports that error only when it must
// build the bundle image (docker.ErrNoBundleBinary), so a dry run or an
// apply that creates no bundle works without the binary, as under
// `go run ./cmd/bottleplan`, which has no sibling. Whether the binary is
// static is docker.CheckStatic's to say.
func bundleBinary(flag string, executable func() (string, error)) (string, error) {
	build := "CGO_ENABLED=0 go build -o bottleplan-bundle ./cmd/bottleplan-bundle and pass --bundle-binary ./bottleplan-bundle"
	if flag != "" {
		path, err := filepath.Abs(flag)
		if err == nil {
			_, err = os.Stat(path)
		}
		if err != nil {
			return "", fmt.Errorf("--bundle-binary: %w; build it with: %s", err, build)
		}
		return path, nil
	}
	exe, err := executable()
	if err != nil {
		return "", fmt.Errorf("find the bottleplan executable, to find %s beside it: %w; build it with: %s", bundleBinaryName, err, build)
	}
	dirs := []string{filepath.Dir(exe)}
	if real, err := filepath.EvalSymlinks(exe); err == nil && filepath.Dir(real) != dirs[0] {
		dirs = append(dirs, filepath.Dir(real))
	}
	for _, d := range dirs {
		path := filepath.Join(d, bundleBinaryName)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
			return path, nil
		}
	}
	return "", fmt.Errorf("no %s beside this bottleplan (%s), and the bundle image is built around it: "+
		"in the bottleplan source tree, install both with: CGO_ENABLED=0 go install ./cmd/... "+
		"(or build it with: %s)", bundleBinaryName, exe, build)
}
