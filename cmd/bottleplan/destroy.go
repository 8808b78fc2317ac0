package main

import (
	"bufio"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
)

func init() {
	register(&command{
		name:  "destroy",
		usage: "destroy plan.json [--instance S] [--auto-approve] [--lock-timeout D] [--rmi]",
		short: "remove every live resource of the plan's project",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			instance := fs.String("instance", "", "remove only this instance (agent name)")
			autoApprove := fs.Bool("auto-approve", false, "remove without asking for confirmation")
			lockTimeout := fs.Duration("lock-timeout", 5*time.Minute, "how long to wait for another apply or destroy of the project (0: do not wait)")
			rmi := fs.Bool("rmi", false, "also remove the images apply built for them (bundle, agent builds) that no other container uses")
			return func(e *env, args []string) error {
				return runDestroy(e, args, *instance, *autoApprove, *lockTimeout, *rmi)
			}
		},
		example: "bottleplan destroy plan.json\nbottleplan destroy plan.json --instance implementer --auto-approve",
	})
}

// runDestroy removes exactly what carries the plan's project label (all
// of it, orphans included, or one instance's), nothing else. The plan
// gives the project name; its content does not matter, so a plan that
// drifted from live state still cleans up everything.
func runDestroy(e *env, args []string, instance string, autoApprove bool, lockTimeout time.Duration, rmi bool) error {
	p, err := readPlanArg(args)
	if err != nil {
		return err
	}
	b, err := backendFor(e, p, docker.Options{})
	if err != nil {
		return err
	}
	unlock, err := lockProject(e, p.Project, lockTimeout)
	if err != nil {
		return err
	}
	defer unlock()
	obs, err := b.Observe(e.ctx, p.Project)
	if err != nil {
		return err
	}
	var images *imageCleanup
	if rmi {
		if images, err = builtImages(e, b, obs, p, instance); err != nil {
			return err
		}
	}
	ch := executor.DiffDestroy(obs, instance)
	if ch.Empty() && instance != "" {
		// An instance the plan names that has nothing live is already
		// destroyed; one it does not name, with nothing live (a live
		// orphan may be destroyed by name), is a mistake.
		if _, err := selectInstances(p, instance); err != nil {
			return err
		}
	}
	if ch.Empty() {
		what := fmt.Sprintf("project %q", p.Project)
		if instance != "" {
			what = fmt.Sprintf("instance %q of project %q", instance, p.Project)
		}
		fmt.Fprintf(e.stdout, "Nothing to destroy: no live resources of %s.\n", what)
		return images.remove(e)
	}
	printChanges(e.stdout, ch)
	if !autoApprove {
		if err := confirm(e, bufio.NewReader(e.stdin), "Destroy these resources?"); err != nil {
			return err
		}
	}
	if err := executor.Apply(e.ctx, b, p, ch, executor.ApplyOptions{OnStep: progress(e.stdout)}); err != nil {
		return fmt.Errorf("%w\nsome resources remain; run destroy again", err)
	}
	fmt.Fprintf(e.stdout, "Destroy complete: %d resources removed.\n", len(ch.Ops()))
	return images.remove(e)
}
