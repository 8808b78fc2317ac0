package main

import (
	"fmt"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// agentState says, for status, what the agent process of in is doing and
// how to reach it: "running; attach: bottleplan attach plan.json dev",
// "exited 3; ...". "" when the instance has no live agent container.
func agentState(obs *executor.Observed, planPath string, in *plan.Instance) string {
	if in.Backend != plan.BackendDocker {
		return ""
	}
	for _, r := range obs.Resources {
		if r.Role != executor.RoleAgent || r.Instance != in.Slug || r.State == "" {
			continue
		}
		switch r.State {
		case "running":
			if !in.Agent.Terminal {
				return fmt.Sprintf("running; exec: bottleplan exec %s %s -- CMD", planPath, in.Slug)
			}
			return fmt.Sprintf("running; attach: bottleplan attach %s %s", planPath, in.Slug)
		case "exited":
			return fmt.Sprintf("exited %d; output: bottleplan logs %s --instance %s; apply starts it again", r.ExitCode, planPath, in.Slug)
		}
		return r.State + "; apply starts it"
	}
	return ""
}
