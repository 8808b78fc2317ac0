package plan

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Graph writes the plan's topology as Graphviz DOT (`bottleplan graph`):
// one cluster per instance holding its internal network (subnet,
// gateway), the agent and the bundle with their addresses and the
// bundle's daemons (proxy, git gate, supervise), and its egress network;
// outside the clusters, one node per upstream host the routes allow and
// per repository the git gate reaches, with an edge from the instance's
// egress side labelled with what the route permits (ports, injected
// auth, path and method matches, DLP) or the repo access. The operator's
// supervise channel is a dashed edge. Output is deterministic: instances
// in plan order, hosts and repos sorted.
func Graph(w io.Writer, p *Plan) error {
	g := &dot{}
	g.line(0, "digraph %s {", quote("bottleplan "+p.Project))
	g.line(1, "graph [rankdir=LR, fontname=%s, fontsize=11, labelloc=t, label=%s, nodesep=0.3, ranksep=0.9];",
		quote("Helvetica"), quote(fmt.Sprintf("project %s — address pool %s — %s", p.Project, p.AddressPool, shortDigest(p.PlanDigest))))
	g.line(1, "node [fontname=%s, fontsize=10, shape=box, style=rounded];", quote("Helvetica"))
	g.line(1, "edge [fontname=%s, fontsize=9];", quote("Helvetica"))

	hosts := map[string]bool{}
	repos := map[string]bool{}
	egress := map[string]bool{}
	supervised := false
	for i := range p.Instances {
		in := &p.Instances[i]
		id := func(part string) string { return quote(in.Slug + "/" + part) }
		g.line(0, "")
		g.line(1, "subgraph %s {", quote("cluster_"+in.Slug))
		g.line(2, "label=%s;", quote(fmt.Sprintf("%s (%s, runtime %s)", in.Slug, in.Backend, in.Runtime)))
		g.line(2, "style=rounded; color=gray40;")

		n := in.Network
		internal := []string{"internal network", n.InternalName, n.Subnet + pinned(n.Pinned), "gateway " + n.Gateway + " (no route out)"}
		if n.AllowCIDR != "" {
			internal = append(internal, "guest may reach only "+n.AllowCIDR)
		}
		g.line(2, "%s [shape=hexagon, style=filled, fillcolor=%s, label=%s];", id("internal"), quote("#e8f0fe"), quote(strings.Join(internal, "\n")))

		agent := []string{"agent " + in.Agent.Name}
		switch {
		case in.Agent.Image != "":
			agent = append(agent, in.Agent.Image)
		case in.Agent.Dockerfile != "":
			agent = append(agent, "built from "+in.Agent.Dockerfile)
		}
		if n.AgentIP != "" {
			agent = append(agent, n.AgentIP)
		}
		if in.Agent.MachineName != "" {
			agent = append(agent, "machine "+in.Agent.MachineName)
		}
		g.line(2, "%s [style=%s, fillcolor=%s, label=%s];", id("agent"), quote("rounded,filled"), quote("#fff4e5"), quote(strings.Join(agent, "\n")))

		b := in.Bundle
		bundle := []string{"bundle " + b.ContainerName, n.BundleIP, "proxy " + b.Proxy.Listen}
		if b.GitGate != nil {
			bundle = append(bundle, "git gate "+b.GitGate.Listen)
		}
		if b.Supervise != nil {
			hold := b.Supervise.HoldTimeout
			if hold == "" {
				hold = OlderPlanHoldTimeout.String()
			}
			bundle = append(bundle, "supervise "+b.Supervise.Listen+" (hold "+hold+")")
		}
		g.line(2, "%s [style=%s, fillcolor=%s, label=%s];", id("bundle"), quote("rounded,filled"), quote("#e6f4ea"), quote(strings.Join(bundle, "\n")))

		g.line(1, "}")

		g.line(1, "%s -> %s [dir=none];", id("agent"), id("internal"))
		g.line(1, "%s -> %s [dir=none];", id("internal"), id("bundle"))
		g.line(1, "%s -> %s [style=dashed, constraint=false, label=%s];", id("agent"), id("bundle"), quote(agentDials(in)))
		// The egress network is the project's, shared by its bundles
		// (no traffic between them): one node outside the instances,
		// and the routes leave from each bundle.
		out := id("bundle")
		if n.EgressName != "" {
			egress[n.EgressName] = true
			g.line(1, "%s -> %s [dir=none];", id("bundle"), quote("egress:"+n.EgressName))
		}
		for _, r := range b.Proxy.Routes {
			hosts[r.Host] = true
			g.line(1, "%s -> %s [label=%s];", out, quote("host:"+r.Host), quote(routeLabel(r)))
		}
		if b.GitGate != nil {
			for _, r := range b.GitGate.Repos {
				repos[r.Upstream] = true
				g.line(1, "%s -> %s [color=%s, label=%s];", out, quote("repo:"+r.Upstream), quote("#1a73e8"), quote(repoLabel(r)))
			}
		}
		if b.Supervise != nil {
			supervised = true
			g.line(1, "operator -> %s [style=dashed, color=%s, label=%s];", id("bundle"), quote("#c5221f"), quote("approve / deny\n(exec, no network)"))
		}
	}
	if supervised {
		g.line(0, "")
		g.line(1, "operator [shape=plain, label=%s];", quote("operator\nbottleplan supervise"))
	}
	if len(hosts) > 0 || len(repos) > 0 || len(egress) > 0 {
		g.line(0, "")
	}
	for _, e := range sortedKeys(egress) {
		g.line(1, "%s [shape=hexagon, label=%s];", quote("egress:"+e), quote("egress network "+e+"\nshared by the project's bundles\n(no traffic between them)"))
	}
	for _, h := range sortedKeys(hosts) {
		g.line(1, "%s [shape=ellipse, label=%s];", quote("host:"+h), quote(h))
	}
	for _, r := range sortedKeys(repos) {
		g.line(1, "%s [shape=cylinder, label=%s];", quote("repo:"+r), quote(r))
	}
	g.line(0, "}")
	_, err := io.WriteString(w, g.b.String())
	return err
}

// agentDials is what the agent is told to dial: the proxy always, the
// git gate and supervise endpoints when there are any.
func agentDials(in *Instance) string {
	parts := []string{"HTTPS_PROXY"}
	if in.Bundle.GitGate != nil {
		parts = append(parts, "git")
	}
	return strings.Join(parts, ", ")
}

// routeLabel is what a route lets through: ports, the injected auth,
// path and method matches, websocket, and the DLP action.
func routeLabel(r Route) string {
	var ports []string
	for _, p := range r.Ports {
		ports = append(ports, strconv.Itoa(p))
	}
	lines := []string{":" + strings.Join(ports, ",")}
	if r.Auth != nil {
		lines = append(lines, "auth "+r.Auth.Scheme+" $"+r.Auth.TokenRef)
	}
	for _, m := range r.Matches {
		var paths []string
		for _, pm := range m.Paths {
			paths = append(paths, pm.Type+":"+pm.Value)
		}
		line := strings.Join(m.Methods, ",")
		if len(paths) > 0 {
			line = strings.TrimSpace(line + " " + strings.Join(paths, " "))
		}
		lines = append(lines, line)
	}
	if r.Websocket {
		lines = append(lines, "websocket")
	}
	dlp := "dlp " + r.DLP
	if !r.Intercept {
		dlp = "blind tunnel (dlp not enforced)"
	}
	return strings.Join(append(lines, dlp), "\n")
}

// repoLabel is a repo's name, access and the credential the gate holds.
func repoLabel(r Repo) string {
	cred := "ssh key"
	if r.KeyProvider == "token" {
		cred = "$" + r.TokenRef
	}
	return fmt.Sprintf("git %s: %s\n(%s)", r.Name, r.Access, cred)
}

func pinned(p bool) string {
	if p {
		return " (pinned)"
	}
	return ""
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// quote is s as a DOT string: double quotes and backslashes escaped, a
// newline as DOT's centred line break \n.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// dot accumulates DOT lines.
type dot struct{ b strings.Builder }

func (d *dot) line(indent int, format string, args ...any) {
	if format == "" {
		d.b.WriteString("\n")
		return
	}
	d.b.WriteString(strings.Repeat("\t", indent))
	fmt.Fprintf(&d.b, format, args...)
	d.b.WriteString("\n")
}
