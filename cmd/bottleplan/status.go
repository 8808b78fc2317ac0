package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
)

func init() {
	register(&command{
		name:  "status",
		usage: "status plan.json [--detailed-exitcode] [--json]",
		short: "compare the live sandboxes with a saved plan",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			detailed := fs.Bool("detailed-exitcode", false, "exit 2 when an instance is drifted or missing")
			asJSON := fs.Bool("json", false, "print the report as JSON (README: status --json)")
			return func(e *env, args []string) error { return runStatus(e, args, *detailed, *asJSON) }
		},
		example: "bottleplan status plan.json\nbottleplan status plan.json --detailed-exitcode   # exit 2 on drift\nbottleplan status plan.json --json",
	})
}

// runStatus prints one line per planned instance: "in sync", "missing"
// (nothing of it is live) or "drifted" with what apply would change and
// why, then the orphans. A runtime grant (a host the operator approved
// for an agent, which the plan's routes do not cover) is drift
// "runtime grant: <host>": apply revokes it. It reads only; the grants of
// supervised instances are read with one exec in each running bundle.
func runStatus(e *env, args []string, detailed, asJSON bool) error {
	p, err := readPlanArg(args)
	if err != nil {
		return err
	}
	b, err := backendFor(e, p, docker.Options{})
	if err != nil {
		return err
	}
	obs, err := executor.ObservePlan(e.ctx, b, p)
	if err != nil {
		return err
	}
	ch, err := executor.Diff(p, obs, executor.DiffOptions{})
	if err != nil {
		return err
	}
	if asJSON {
		r := newStatusReport(p, ch)
		if err := writeJSON(e.stdout, r); err != nil {
			return err
		}
		if detailed && !r.InSync {
			return silent(exitChanges)
		}
		return nil
	}
	byInst := map[string][]executor.Op{}
	for _, ic := range ch.Instances {
		byInst[ic.Slug] = ic.Ops
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	off := 0
	var agents []string // the agents' process states (agentState)
	for _, in := range p.Instances {
		if st := agentState(obs, args[0], &in); st != "" {
			agents = append(agents, fmt.Sprintf("  %s\t%s\n", in.Slug, st))
		}
		ops := byInst[in.Slug]
		if len(ops) == 0 {
			fmt.Fprintf(tw, "%s\tin sync\n", in.Slug)
			continue
		}
		off++
		missing := true
		var why []string
		for _, op := range ops {
			missing = missing && op.Kind == executor.Create
			if op.Kind == executor.Revoke {
				why = append(why, "runtime grant: "+op.Grant.Target())
				continue
			}
			_, cause, _ := strings.Cut(op.Cause, ": ")
			why = append(why, fmt.Sprintf("%s %s", op.Role, cause))
		}
		if missing {
			fmt.Fprintf(tw, "%s\tmissing\n", in.Slug)
			continue
		}
		fmt.Fprintf(tw, "%s\tdrifted: %s\n", in.Slug, strings.Join(why, "; "))
	}
	for _, op := range ch.Shared {
		// What the instances share (the egress network): missing,
		// drifted, or no longer used.
		fmt.Fprintf(tw, "%s\t%s %s: %s\n", op.Owner(), op.Role, op.Name, op.Cause)
	}
	tw.Flush()
	if len(agents) > 0 {
		fmt.Fprintln(e.stdout, "Agents:")
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		for _, l := range agents {
			fmt.Fprint(tw, l)
		}
		tw.Flush()
	}
	printOrphans(e.stdout, ch)
	switch {
	case off == 0 && len(ch.Shared) == 0:
		fmt.Fprintf(e.stdout, "Project %q: all %d instances in sync.\n", p.Project, len(p.Instances))
		return nil
	case off == 0:
		fmt.Fprintf(e.stdout, "Project %q: all %d instances in sync; what they share is not (apply converges it).\n", p.Project, len(p.Instances))
	default:
		fmt.Fprintf(e.stdout, "Project %q: %d of %d instances drifted or missing; apply converges them.\n", p.Project, off, len(p.Instances))
	}
	if detailed {
		return silent(exitChanges)
	}
	return nil
}
