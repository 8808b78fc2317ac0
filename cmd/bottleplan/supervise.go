package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/plan"
)

func init() {
	register(&command{
		name:  "supervise",
		usage: "supervise plan.json [--instance S] [--json] [--watch] | plan.json approve ID [--reason R] | plan.json deny ID [--reason R] | plan.json answer ID TEXT",
		short: "list what the supervised bundles wait on the operator for (held requests, access requests, questions), or decide one",
		flags: func(fs *pflag.FlagSet) func(e *env, args []string) error {
			var o superviseOpts
			fs.StringVar(&o.instance, "instance", "", "only this instance (its slug)")
			fs.BoolVar(&o.json, "json", false, "print as JSON (one document; with --watch, one JSON object a line)")
			fs.BoolVar(&o.watch, "watch", false, "keep polling and print each new item once, as it arrives, until Ctrl-C")
			fs.StringVar(&o.reason, "reason", "", "why (approve, deny); a denial's reason is told to the agent")
			return func(e *env, args []string) error { return runSupervise(e, args, o) }
		},
		example: "bottleplan supervise plan.json\nbottleplan supervise plan.json approve 3f2a\nbottleplan supervise plan.json deny 3f2a --reason \"not this repo\"",
	})
}

type superviseOpts struct {
	instance string
	json     bool
	watch    bool
	reason   string
	// poll is the --watch interval (watchInterval when 0).
	poll time.Duration
}

// watchInterval is how often --watch asks each bundle for its items.
const watchInterval = time.Second

// superviseAction is what the positional arguments after the plan ask.
type superviseAction struct {
	verb string // "", "approve", "deny" or "answer"
	id   string
	text string // answer's TEXT
}

// parseSuperviseArgs reads plan.json [approve ID | deny ID | answer ID
// TEXT]. An answer is one argument (quoted on the shell), so a stray
// word is an error rather than part of what the agent is told.
func parseSuperviseArgs(args []string) (superviseAction, error) {
	if len(args) == 0 {
		return superviseAction{}, usagef("want a plan file")
	}
	if len(args) == 1 {
		return superviseAction{}, nil
	}
	a := superviseAction{verb: args[1]}
	switch {
	case (a.verb == "approve" || a.verb == "deny") && len(args) == 2:
		return a, usagef("%s needs the ID of a held request or an access request (bottleplan supervise %s lists them)", a.verb, args[0])
	case (a.verb == "approve" || a.verb == "deny") && len(args) == 3:
		a.id = args[2]
	case a.verb == "answer" && len(args) < 4:
		return a, usagef("answer needs the ID of a question and the answer: bottleplan supervise %s answer ID TEXT", args[0])
	case a.verb == "answer" && len(args) == 4:
		a.id, a.text = args[2], args[3]
		if strings.TrimSpace(a.text) == "" {
			return a, usagef("answer's TEXT is empty: the agent waits for what the operator says")
		}
	case a.verb == "answer":
		return a, usagef("answer takes the answer as one argument: quote it (bottleplan supervise %s answer ID \"TEXT\")", args[0])
	default:
		return a, usagef("want plan.json, plan.json approve ID, plan.json deny ID or plan.json answer ID TEXT, got %q", args)
	}
	return a, nil
}

// runSupervise lists the pending items of every supervised instance of
// the plan (or of --instance), watches for new ones, or decides one.
// The operator API is reached only through the Engine's exec API in each
// bundle container (executor.Supervisor on the Docker backend; on
// smolmachines the bundle is a Docker container too); nothing here opens
// a network connection to a bottle. An ID is looked up in the lists of
// the instances, so its kind is known before anything is decided.
func runSupervise(e *env, args []string, o superviseOpts) error {
	a, err := parseSuperviseArgs(args)
	if err != nil {
		return err
	}
	switch {
	case o.reason != "" && a.verb != "approve" && a.verb != "deny":
		return usagef("--reason goes with approve or deny")
	case a.verb != "" && o.json:
		return usagef("--json goes with the list; approve, deny and answer print one line")
	case a.verb != "" && o.watch:
		return usagef("--watch goes with the list; approve, deny and answer act once")
	}
	p, err := readPlan(args[0])
	if err != nil {
		return err
	}
	todo, err := supervisedInstances(p, o.instance)
	if err != nil {
		return err
	}
	c, err := docker.Connect()
	if err != nil {
		return err
	}
	defer c.Close()
	var s executor.Supervisor = docker.New(c, docker.Options{})
	switch {
	case a.verb != "":
		return decideItem(e, s, todo, args[0], a, o.reason)
	case o.watch:
		return watchItems(e, s, todo, o)
	}
	items, err := listItems(e.ctx, s, todo)
	if err != nil {
		return err
	}
	if o.json {
		return writeItemsJSON(e, items)
	}
	printItems(e, items)
	return nil
}

// listedItem is one pending item as supervise lists it.
type listedItem struct {
	Instance string `json:"instance"`
	executor.PendingItem
	// AgeSeconds is how long it has waited, in whole seconds.
	AgeSeconds int64 `json:"age_seconds"`
}

// listItems asks every instance of todo for its pending items, in the
// order of todo, each list oldest first.
func listItems(ctx context.Context, s executor.Supervisor, todo []*plan.Instance) ([]listedItem, error) {
	items := []listedItem{}
	now := time.Now()
	for _, in := range todo {
		its, err := s.PendingItems(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, it := range its {
			items = append(items, listedItem{Instance: in.Slug, PendingItem: it, AgeSeconds: max(0, int64(now.Sub(it.Created)/time.Second))})
		}
	}
	return items, nil
}

// decideItem finds a.id among the pending items of todo and approves,
// denies or answers it, refusing a verb that does not fit its kind.
func decideItem(e *env, s executor.Supervisor, todo []*plan.Instance, planPath string, a superviseAction, reason string) error {
	var failed []string
	for _, in := range todo {
		its, err := s.PendingItems(e.ctx, in)
		if err != nil {
			failed = append(failed, err.Error())
			continue
		}
		for _, it := range its {
			if it.ID != a.id {
				continue
			}
			if err := checkVerb(planPath, a, it); err != nil {
				return err
			}
			past := map[string]string{"approve": "approved", "deny": "denied", "answer": "answered"}[a.verb]
			if a.verb == "answer" {
				err = s.Answer(e.ctx, in, a.id, a.text)
			} else {
				err = s.Decide(e.ctx, in, a.id, a.verb == "approve", reason)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s %s %s on %s\n", past, it.Kind.Noun(), a.id, in.Slug)
			return nil
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("no pending item %q in the instances that answered, and some could not be asked: %s", a.id, strings.Join(failed, "; "))
	}
	return fmt.Errorf("no pending item %q in %s (it was decided, answered, timed out, or its client hung up; bottleplan supervise %s lists the pending ones)", a.id, slugList(todo), planPath)
}

// checkVerb refuses a verb that does not fit the item's kind: only a
// question is answered, and a question is never approved or denied.
func checkVerb(planPath string, a superviseAction, it executor.PendingItem) error {
	switch {
	case a.verb == "answer" && it.Kind != executor.ItemQuestion:
		return fmt.Errorf("%s is %s, not a question: %s it (bottleplan supervise %s approve %s)", a.id, it.Kind.WithArticle(), it.Kind.Verbs(), planPath, a.id)
	case a.verb != "answer" && it.Kind == executor.ItemQuestion:
		return fmt.Errorf("%s is a question: answer it (bottleplan supervise %s answer %s TEXT)", a.id, planPath, a.id)
	}
	return nil
}

// watchItems polls every instance of todo each o.poll and prints each
// item not seen before, once, as it arrives (the items pending at the
// start first). It ends with exit 0 when its context ends (Ctrl-C,
// SIGTERM). A poll that fails after the first is reported on stderr once
// until that instance answers again; the first must succeed.
func watchItems(e *env, s executor.Supervisor, todo []*plan.Instance, o superviseOpts) error {
	poll := o.poll
	if poll == 0 {
		poll = watchInterval
	}
	w := newItemWriter(e, o.json)
	if e.isTTY && !o.json {
		fmt.Fprintf(e.stderr, "Watching %s for new items; Ctrl-C ends.\n", slugList(todo))
	}
	seen := map[string]bool{}
	failing := map[string]bool{}
	for first := true; ; first = false {
		for _, in := range todo {
			its, err := s.PendingItems(e.ctx, in)
			if e.ctx.Err() != nil {
				return nil
			}
			if err != nil {
				if first {
					return err
				}
				if !failing[in.Slug] {
					fmt.Fprintf(e.stderr, "bottleplan supervise: %v (still watching)\n", err)
				}
				failing[in.Slug] = true
				continue
			}
			failing[in.Slug] = false
			for _, it := range its {
				key := in.Slug + "\x00" + it.ID
				if seen[key] {
					continue
				}
				seen[key] = true
				if err := w.write(listedItem{Instance: in.Slug, PendingItem: it, AgeSeconds: max(0, int64(time.Since(it.Created)/time.Second))}); err != nil {
					return err
				}
			}
		}
		select {
		case <-e.ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
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
