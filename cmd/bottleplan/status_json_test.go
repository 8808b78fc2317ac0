package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

func TestStatusReport(t *testing.T) {
	p := &plan.Plan{Project: "acme", Instances: []plan.Instance{{Slug: "a"}, {Slug: "b"}, {Slug: "c"}}}
	ch := &executor.Changes{Project: "acme",
		Instances: []executor.InstanceChanges{
			{Slug: "b", Ops: []executor.Op{{Kind: executor.Create, Role: executor.RoleBundle, Name: "acme-b-bundle", Cause: "create: not found"}}},
			{Slug: "c", Ops: []executor.Op{
				{Kind: executor.Create, Role: executor.RoleAgent, Name: "acme-c-agent", Cause: "create: not found"},
				{Kind: executor.Replace, Role: executor.RoleBundle, Name: "acme-c-bundle", Cause: "replace: config hash changed (bundle: proxy.routes)"},
			}},
		},
		Orphans:         []string{"old"},
		OrphanResources: []executor.Resource{{Instance: "old", Name: "acme-old-z"}, {Instance: "old", Name: "acme-old-a"}},
	}
	var b bytes.Buffer
	if err := writeJSON(&b, newStatusReport(p, ch)); err != nil {
		t.Fatal(err)
	}
	want := `{
  "format_version": 1,
  "in_sync": false,
  "instances": [
    {
      "changes": [],
      "slug": "a",
      "state": "in_sync"
    },
    {
      "changes": [
        {
          "cause": "not found",
          "op": "create",
          "resource": "acme-b-bundle",
          "role": "bundle"
        }
      ],
      "slug": "b",
      "state": "missing"
    },
    {
      "changes": [
        {
          "cause": "not found",
          "op": "create",
          "resource": "acme-c-agent",
          "role": "agent"
        },
        {
          "cause": "config hash changed (bundle: proxy.routes)",
          "op": "replace",
          "resource": "acme-c-bundle",
          "role": "bundle"
        }
      ],
      "slug": "c",
      "state": "drifted"
    }
  ],
  "orphans": [
    {
      "resources": [
        "acme-old-a",
        "acme-old-z"
      ],
      "slug": "old"
    }
  ],
  "project": "acme",
  "shared": []
}
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	// All in sync: true, and empty lists are lists.
	b.Reset()
	writeJSON(&b, newStatusReport(&plan.Plan{Project: "x", Instances: []plan.Instance{{Slug: "a"}}}, &executor.Changes{}))
	if !strings.Contains(b.String(), `"in_sync": true`) || !strings.Contains(b.String(), `"orphans": []`) {
		t.Errorf("in sync report:\n%s", b.String())
	}
	// A change to what the instances share (the project's egress
	// network) is drift too, though every instance is in sync.
	b.Reset()
	writeJSON(&b, newStatusReport(&plan.Plan{Project: "x", Instances: []plan.Instance{{Slug: "a"}}},
		&executor.Changes{Shared: []executor.Op{{Kind: executor.Create, Instance: executor.SharedInstance, Role: executor.RoleNetworkEgress, Name: "x-egress", Cause: "create: not found"}}}))
	if !strings.Contains(b.String(), `"in_sync": false`) || !strings.Contains(b.String(), `"resource": "x-egress"`) {
		t.Errorf("a missing shared network is not drift:\n%s", b.String())
	}
}
