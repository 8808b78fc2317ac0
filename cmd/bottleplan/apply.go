package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/plan"
	"github.com/bottleplan/bottleplan/schema"
)

func init() {
	register(&command{
		name:  "apply",
		usage: "apply plan.json [-f M] [--auto-approve] [--dry-run] [--prune] [--replace INSTANCE]... [--detailed-exitcode] [--env-file F] [--lock-timeout D]",
		short: "make the live sandboxes match a saved plan",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			var o applyOpts
			fs.StringArrayVarP(&o.manifests, "file", "f", nil, "manifest the plan was made from: refuse the plan when it is stale; dockerfile paths resolve from it")
			fs.BoolVar(&o.autoApprove, "auto-approve", false, "apply without asking for confirmation")
			fs.BoolVar(&o.dryRun, "dry-run", false, "print the changes and change nothing")
			fs.BoolVar(&o.prune, "prune", false, "delete instances of the project that the plan does not name")
			fs.StringArrayVar(&o.replace, "replace", nil, "replace this instance's bundle and agent even if nothing changed (repeatable): rolls out a changed secret value or a new bottleplan binary")
			fs.BoolVar(&o.detailed, "detailed-exitcode", false, "with --dry-run, exit 2 when there are changes")
			fs.StringVar(&o.envFile, "env-file", "", "file of NAME=value lines for the env values asked for at apply")
			fs.DurationVar(&o.lockTimeout, "lock-timeout", 5*time.Minute, "how long to wait for another apply or destroy of the project (0: do not wait)")
			fs.StringVar(&o.bundleBinary, "bundle-binary", "", "static bottleplan-bundle binary for the bundle image (default: bottleplan-bundle beside this executable)")
			return func(e *env, args []string) error { return runApply(e, args, o) }
		},
		example: "bottleplan apply plan.json -f bottleplan.yaml              # refuse a stale plan, ask, apply\nbottleplan apply plan.json --dry-run --detailed-exitcode   # exit 2 when apply would change something\nbottleplan apply plan.json --replace implementer --auto-approve",
	})
}

type applyOpts struct {
	manifests    []string
	autoApprove  bool
	dryRun       bool
	prune        bool
	replace      []string
	detailed     bool
	envFile      string
	lockTimeout  time.Duration
	bundleBinary string
}

func runApply(e *env, args []string, o applyOpts) error {
	if o.detailed && !o.dryRun {
		return usagef("--detailed-exitcode goes with --dry-run")
	}
	p, err := readPlanArg(args)
	if err != nil {
		return err
	}
	if err := checkEndpoints(p); err != nil {
		return err
	}
	root, err := manifestRoot(args[0], o.manifests)
	if err != nil {
		return err
	}
	if err := checkStale(e, p, o.manifests); err != nil {
		return err
	}
	var prompted map[string]string
	if o.envFile != "" {
		if prompted, err = readEnvFile(o.envFile); err != nil {
			return err
		}
	}
	bin, binErr := bundleBinary(o.bundleBinary, os.Executable)
	roots := docker.HostRootsFile()
	if roots == "" {
		// Every compiled route is intercepted: the bundle makes the
		// upstream TLS connection itself and verifies it against the
		// roots copied into its container.
		fmt.Fprintln(e.stderr, "warning: no system root certificates found on this host (install ca-certificates); the bundle will not be able to verify any upstream, so intercepted routes will fail")
	}
	b, err := backendFor(e, p, docker.Options{BundleBinary: bin, ManifestRoot: root, RootsFile: roots,
		Log: func(msg string) { fmt.Fprintln(e.stdout, msg) }, BuildProgress: buildProgress(e)})
	if err != nil {
		return err
	}
	if !o.dryRun {
		unlock, err := lockProject(e, p.Project, o.lockTimeout)
		if err != nil {
			return err
		}
		defer unlock()
	}

	obs, err := executor.ObservePlan(e.ctx, b, p)
	if err != nil {
		return err
	}
	ch, err := executor.Diff(p, obs, executor.DiffOptions{Prune: o.prune, Replace: o.replace})
	if err != nil {
		return err
	}
	printChanges(e.stdout, ch)
	if ch.Empty() {
		fmt.Fprintf(e.stdout, "No changes: the live state of project %q matches the plan.\n", p.Project)
		return nil
	}
	if o.dryRun {
		if err := printSmolvmCommands(e.stdout, b, p, ch); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "Dry run: nothing changed.")
		if o.detailed {
			return silent(exitChanges)
		}
		return nil
	}
	if !o.autoApprove && !e.isTTY {
		return errNoConfirm
	}
	needs := executor.SecretNeeds(p, ch)
	if err := executor.CheckHost(needs, hostSecrets(e, root)); err != nil {
		return err
	}
	if err := checkPrompted(e, p, needs, prompted); err != nil {
		return err
	}
	// Images before the question: a missing one is reported before
	// anyone confirms, and certainly before anything is created.
	if err := b.Prepare(e.ctx, p, ch); err != nil {
		if errors.Is(err, docker.ErrNoBundleBinary) && binErr != nil {
			return binErr
		}
		if errors.Is(err, executor.ErrStale) {
			return withCode(exitRefused, err)
		}
		return err
	}
	stdin := bufio.NewReader(e.stdin)
	if !o.autoApprove {
		if err := confirm(e, stdin, "Apply these changes?"); err != nil {
			return err
		}
	}
	secrets, err := executor.ResolveSecrets(needs, hostSecrets(e, root), prompter(e, stdin, prompted))
	if err != nil {
		return err
	}
	err = executor.Apply(e.ctx, b, p, ch, executor.ApplyOptions{Secrets: secrets, OnStep: progress(e.stdout)})
	if err != nil {
		return fmt.Errorf("%w\nrun apply again when fixed: it converges from whatever is live", err)
	}
	n := ch.Counts()
	fmt.Fprintf(e.stdout, "Apply complete: %d created, %d updated, %d replaced, %d deleted%s.\n",
		n[executor.Create], n[executor.Update], n[executor.Replace], n[executor.Delete], revokeCount(n, "revoked"))
	return nil
}

// checkEndpoints refuses a plan whose endpoints are assigned at apply
// (plan --unroutable-bridge, for hosts such as Docker Desktop where the
// guest cannot reach bridge addresses): apply does not assign them yet,
// and going ahead would leave the agent pointed at addresses it cannot
// reach.
func checkEndpoints(p *plan.Plan) error {
	for _, in := range p.Instances {
		if in.Endpoints.AssignedAtApply {
			return fmt.Errorf("instance %q: its endpoints are assigned at apply (plan --unroutable-bridge), which this bottleplan cannot do yet; on a host whose bridge addresses the guest can reach, make the plan without --unroutable-bridge", in.Slug)
		}
	}
	return nil
}

// manifestRoot is the directory agent.dockerfile paths are relative to:
// with -f, the manifest root as schema.Root defines it, else the plan
// file's directory.
func manifestRoot(planPath string, manifests []string) (string, error) {
	if len(manifests) == 0 {
		return filepath.Abs(filepath.Dir(planPath))
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return schema.Root(wd, manifests), nil
}
