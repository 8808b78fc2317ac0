package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/bundle"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/plan"
)

func init() {
	register(&command{
		name:  "supervise",
		usage: "supervise plan.json [--instance S] [--json] | plan.json approve ID [--reason R] | plan.json deny ID [--reason R]",
		short: "list the requests the bundles hold for supervision, or approve or deny one",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			instance := fs.String("instance", "", "only this instance (its slug)")
			asJSON := fs.Bool("json", false, "print as JSON")
			reason := fs.String("reason", "", "why (approve, deny); a denial's reason is told to the agent")
			return func(e *env, args []string) error {
				return runSupervise(e, args, *instance, *asJSON, *reason)
			}
		},
		example: "bottleplan supervise plan.json\nbottleplan supervise plan.json approve 3f2a\nbottleplan supervise plan.json deny 3f2a --reason \"not this repo\"",
	})
}

// heldItem is one pending held request as supervise lists it.
type heldItem struct {
	Instance string `json:"instance"`
	bundle.Item
	// AgeSeconds is how long it has been held, in whole seconds.
	AgeSeconds int64 `json:"age_seconds"`
}

// runSupervise lists the pending held requests of every supervised
// instance of the plan (or of --instance), or decides one. The operator
// API is reached only through the Engine's exec API in each bundle
// container (docker.Backend.BundleCtl); nothing here opens a network
// connection to a bottle. An ID is tried on each supervised instance
// until one holds it.
func runSupervise(e *env, args []string, only string, asJSON bool, reason string) error {
	if len(args) == 0 {
		return usagef("want a plan file")
	}
	var action, id string
	switch {
	case len(args) == 1:
	case len(args) == 3 && (args[1] == "approve" || args[1] == "deny"):
		action, id = args[1], args[2]
	case len(args) == 2 && (args[1] == "approve" || args[1] == "deny"):
		return usagef("%s needs the ID of a held request (bottleplan supervise %s lists them)", args[1], args[0])
	default:
		return usagef("want plan.json, plan.json approve ID or plan.json deny ID, got %q", args)
	}
	if action == "" && reason != "" {
		return usagef("--reason goes with approve or deny")
	}
	if action != "" && asJSON {
		return usagef("--json goes with the list; approve and deny print one line")
	}
	p, err := readPlan(args[0])
	if err != nil {
		return err
	}
	todo, err := supervisedInstances(p, only)
	if err != nil {
		return err
	}
	c, err := docker.Connect()
	if err != nil {
		return err
	}
	defer c.Close()
	b := docker.New(c, docker.Options{})
	if action != "" {
		ctlArgs := []string{action, id}
		if reason != "" {
			ctlArgs = append(ctlArgs, "--reason", reason)
		}
		var failed []string
		for _, in := range todo {
			_, err := b.BundleCtl(e.ctx, in, ctlArgs...)
			if err == nil {
				fmt.Fprintf(e.stdout, "%s %s on %s\n", map[string]string{"approve": "approved", "deny": "denied"}[action], id, in.Slug)
				return nil
			}
			if !errors.Is(err, docker.ErrOperator) || !strings.Contains(err.Error(), bundle.ErrNoSuchItem.Error()) {
				failed = append(failed, err.Error())
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("no instance could %s %s: %s", action, id, strings.Join(failed, "; "))
		}
		return fmt.Errorf("no pending held request %q in %s (it was decided, timed out or its client hung up; bottleplan supervise %s lists the pending ones)", id, slugList(todo), args[0])
	}
	items := []heldItem{}
	now := time.Now()
	for _, in := range todo {
		out, err := b.BundleCtl(e.ctx, in, "list")
		if err != nil {
			return err
		}
		var hl bundle.ItemList
		if err := json.Unmarshal(out, &hl); err != nil {
			return fmt.Errorf("instance %q: the operator API's list is not JSON: %w", in.Slug, err)
		}
		for _, h := range hl.Items {
			items = append(items, heldItem{Instance: in.Slug, Item: h, AgeSeconds: int64(now.Sub(h.Created) / time.Second)})
		}
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(items)
	}
	printHeld(e.stdout, items)
	return nil
}

// supervisedInstances are the instances of p with supervise on, or the
// one only names (an error when it has supervise off or does not exist).
func supervisedInstances(p *plan.Plan, only string) ([]*plan.Instance, error) {
	sel, err := selectInstances(p, only)
	if err != nil {
		return nil, err
	}
	var todo []*plan.Instance
	for _, in := range sel {
		if in.Bundle.Supervise == nil {
			if only != "" {
				return nil, fmt.Errorf("instance %q has supervise off: its bottle needs supervise: true", only)
			}
			continue
		}
		if in.Backend != plan.BackendDocker && in.Backend != plan.BackendSmolmachines {
			return nil, fmt.Errorf("instance %q uses backend %q; supervise reaches bundles on Docker only so far", in.Slug, in.Backend)
		}
		todo = append(todo, in)
	}
	if len(todo) == 0 {
		return nil, errors.New("no instance of the plan has supervise on: a bottle needs supervise: true")
	}
	return todo, nil
}

func slugList(ins []*plan.Instance) string {
	var s []string
	for _, in := range ins {
		s = append(s, in.Slug)
	}
	return strings.Join(s, ", ")
}

// printHeld writes the held requests as a table (secrets already
// scrubbed by the bundle).
func printHeld(w io.Writer, items []heldItem) {
	if len(items) == 0 {
		fmt.Fprintln(w, "no requests held")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tID\tAGE\tMETHOD\tHOST\tPATH\tREASON")
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Instance, it.ID, time.Duration(it.AgeSeconds)*time.Second,
			it.Method, it.Host, it.Path, it.Reason)
	}
	tw.Flush()
}
