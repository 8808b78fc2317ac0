package main

import (
	"sort"
	"strings"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// statusReport is `status --json`: one entry per planned instance, in
// plan order, then the orphans. Keys are snake_case and sorted within
// each object, as in the plan file (show --json).
type statusReport struct {
	FormatVersion int              `json:"format_version"`
	InSync        bool             `json:"in_sync"`
	Instances     []statusInstance `json:"instances"`
	Orphans       []statusOrphan   `json:"orphans"`
	Project       string           `json:"project"`
	// Shared are the changes apply would make to what the project's
	// instances share (its egress network).
	Shared []statusChange `json:"shared"`
}

// statusInstance is one planned instance: state is "in_sync", "missing"
// (nothing of it is live) or "drifted"; changes are what apply would do
// to converge it, and why.
type statusInstance struct {
	Changes []statusChange `json:"changes"`
	Slug    string         `json:"slug"`
	State   string         `json:"state"`
}

// statusChange is one op apply would run: op is create, update, replace
// or delete; role is network-internal, network-egress, bundle or agent;
// cause is the reason without the op ("config hash changed (bundle:
// proxy.routes)").
type statusChange struct {
	Cause    string `json:"cause"`
	Op       string `json:"op"`
	Resource string `json:"resource"`
	Role     string `json:"role"`
}

// statusOrphan is a live instance of the project the plan does not name,
// with its resources' names.
type statusOrphan struct {
	Resources []string `json:"resources"`
	Slug      string   `json:"slug"`
}

// newStatusReport builds the report from the plan and the changes apply
// would make. Lists are never null.
func newStatusReport(p *plan.Plan, ch *executor.Changes) statusReport {
	byInst := map[string][]executor.Op{}
	for _, ic := range ch.Instances {
		byInst[ic.Slug] = ic.Ops
	}
	r := statusReport{FormatVersion: jsonFormatVersion, Project: p.Project, InSync: true,
		Instances: []statusInstance{}, Orphans: []statusOrphan{}, Shared: []statusChange{}}
	for _, op := range ch.Shared {
		_, cause, _ := strings.Cut(op.Cause, ": ")
		r.Shared = append(r.Shared, statusChange{Op: string(op.Kind), Role: string(op.Role), Resource: op.Name, Cause: cause})
		r.InSync = false
	}
	for _, in := range p.Instances {
		si := statusInstance{Slug: in.Slug, State: "in_sync", Changes: []statusChange{}}
		ops := byInst[in.Slug]
		missing := len(ops) > 0
		for _, op := range ops {
			missing = missing && op.Kind == executor.Create
			_, cause, _ := strings.Cut(op.Cause, ": ")
			si.Changes = append(si.Changes, statusChange{Op: string(op.Kind), Role: string(op.Role), Resource: op.Name, Cause: cause})
		}
		switch {
		case missing:
			si.State = "missing"
		case len(ops) > 0:
			si.State = "drifted"
		}
		if si.State != "in_sync" {
			r.InSync = false
		}
		r.Instances = append(r.Instances, si)
	}
	res := map[string][]string{}
	for _, x := range ch.OrphanResources {
		res[x.Instance] = append(res[x.Instance], x.Name)
	}
	for _, s := range ch.Orphans {
		names := append([]string{}, res[s]...)
		sort.Strings(names)
		r.Orphans = append(r.Orphans, statusOrphan{Slug: s, Resources: names})
	}
	return r
}
