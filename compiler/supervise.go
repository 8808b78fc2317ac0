package compiler

import (
	"fmt"
	"strings"

	"github.com/bottleplan/bottleplan/plan"
)

// superviseURL is the agent's supervise endpoint: the MCP server the
// bundle serves at plan.SuperviseMCPPath on its supervise listener
// (bundle/mcp.go). The plan's endpoints.supervise_url and the guest env's
// BOTTLEPLAN_SUPERVISE_URL are both this URL, so what the review shows is
// what the agent is told.
func superviseURL(bundleIP string) string {
	return fmt.Sprintf("http://%s:%d%s", bundleIP, plan.SupervisePort, plan.SuperviseMCPPath)
}

// withSupervisePrompt appends to the agent's prompt what it needs to
// know to use supervise: the URL and its three tools. Apply writes the
// result to plan.GuestPromptFile, so the agent reads it whatever its
// CLI; the plan shows it, so the review does too.
func withSupervisePrompt(prompt, url string) string {
	note := fmt.Sprintf("A human operator supervises this sandbox through an MCP server (streamable HTTP) at %s, also in $%s. "+
		"Its tools: held_requests lists your requests the egress proxy holds for the operator; "+
		"request_access(host, reason) asks the operator to allow a host your egress routes block; "+
		"ask_operator(question) asks the operator a question. The last two wait for the operator's decision or answer.",
		url, plan.GuestSuperviseEnv)
	if strings.TrimSpace(prompt) == "" {
		return note + "\n"
	}
	return strings.TrimRight(prompt, "\n") + "\n\n" + note + "\n"
}
