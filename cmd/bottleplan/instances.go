package main

import (
	"fmt"
	"strings"

	"github.com/bottleplan/bottleplan/plan"
)

// selectInstances returns the instances --instance names (all when
// only is ""), or noInstance when only names none. Every command with
// --instance selects through it.
func selectInstances(p *plan.Plan, only string) ([]*plan.Instance, error) {
	var todo []*plan.Instance
	for i := range p.Instances {
		if only == "" || p.Instances[i].Slug == only {
			todo = append(todo, &p.Instances[i])
		}
	}
	if only != "" && len(todo) == 0 {
		return nil, noInstance(p, only)
	}
	return todo, nil
}

// noInstance is the error for an --instance the plan does not hold,
// listing the instances it does.
func noInstance(p *plan.Plan, only string) error {
	var slugs []string
	for _, in := range p.Instances {
		slugs = append(slugs, in.Slug)
	}
	return fmt.Errorf("no instance %q in the plan (it has: %s)", only, strings.Join(slugs, ", "))
}
