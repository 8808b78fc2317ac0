package plan

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// RenderOptions tune the human renderings (Render, RenderDiff).
type RenderOptions struct {
	// Color adds ANSI colour. The caller decides: the CLI sets it only
	// when stdout is a terminal and NO_COLOR is unset.
	Color bool
	// flush is how much review text Render gathers before writing it;
	// 0 means renderFlush (tests set it).
	flush int
}

// ANSI escapes used when RenderOptions.Color is set.
const (
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiReset  = "\x1b[0m"
)

// painter applies colour only when asked.
type painter bool

func (c painter) paint(code, s string) string {
	if !c || s == "" {
		return s
	}
	return code + s + ansiReset
}

// labelWidth is the width of the label column in an instance block.
const labelWidth = 10

// Render writes the review summary of p: a header, one block per instance
// and one summary line with counts. It shows names, never values: env
// variables by name and source (literal, `NAME <- $HOST`, `NAME
// (prompted)`), tokens by the name of the host variable that holds them.
//
// The output is a stable function of p (golden files store it): no
// widths depend on the terminal and every list is in plan order or
// sorted. Without Color it is plain ASCII apart from what the plan's own
// strings contain.
func Render(w io.Writer, p *Plan, opts RenderOptions) error {
	r := &renderer{c: painter(opts.Color)}
	flush := opts.flush
	if flush == 0 {
		flush = renderFlush
	}
	r.header(p)
	for i := range p.Instances {
		r.line("")
		r.instance(&p.Instances[i])
		// Write as it goes: the review of 10000 instances is 14 MB.
		if r.b.Len() >= flush {
			if _, err := io.WriteString(w, r.b.String()); err != nil {
				return err
			}
			r.b.Reset()
		}
	}
	r.line("")
	r.line(summary(p))
	_, err := io.WriteString(w, r.b.String())
	return err
}

// renderFlush is how much review text Render gathers before writing it.
const renderFlush = 64 << 10

type renderer struct {
	b strings.Builder
	c painter
}

func (r *renderer) line(s string) {
	r.b.WriteString(strings.TrimRight(s, " "))
	r.b.WriteByte('\n')
}

// field writes a labelled value; further values go on continuation lines
// aligned under the first. No values writes "(none)" or the given empty
// text.
func (r *renderer) field(label string, values []string, empty string) {
	if len(values) == 0 {
		values = []string{r.c.paint(ansiDim, empty)}
	}
	for i, v := range values {
		l := ""
		if i == 0 {
			l = label
		}
		r.line(fmt.Sprintf("  %-*s %s", labelWidth, l, v))
	}
}

func (r *renderer) header(p *Plan) {
	r.line(fmt.Sprintf("Project %s, address pool %s", r.c.paint(ansiBold, p.Project), p.AddressPool))
	if p.PlanDigest != "" {
		r.line("Plan " + p.PlanDigest)
	}
}

func (r *renderer) instance(in *Instance) {
	r.line(r.c.paint(ansiBold, in.Slug))
	a := &in.Agent

	source := "image " + a.Image
	if rc := a.Recipe; rc != nil {
		// The build args are what a reviewer must see: the base and the
		// pinned CLI (plan.Recipe).
		source += fmt.Sprintf(" (built by apply: %s recipe FROM %s, %s@%s)", rc.Template,
			rc.BuildArgs[RecipeArgBase], rc.BuildArgs[RecipeArgCLIPackage], rc.BuildArgs[RecipeArgCLIVersion])
	}
	if a.Dockerfile != "" {
		source = "dockerfile " + a.Dockerfile
		if a.DockerfileDigest != "" {
			source += " (" + shortDigest(a.DockerfileDigest) + ")"
		}
	}
	r.field("agent", []string{a.Name + ", " + source}, "")
	r.field("provider", []string{a.ProviderTemplate + ", prompt via " + a.PromptMode}, "")
	r.field("command", []string{argv(a.Command)}, "")
	r.field("prompt", promptSummary(a.Prompt), "(none)")
	r.field("env", r.replaced(in, "env", r.envLines(in), "(none)"), "(none)")
	r.field("skills", joined(a.Skills, ", "), "(none)")
	r.field("bottles", []string{strings.Join(in.BottleChain, " -> ")}, "")
	r.gitGate(in)
	r.field("egress", r.replaced(in, "egress", r.routeLines(in.Bundle.Proxy.Routes), "(none: no outbound access)"), "(none: no outbound access)")
	r.field("secrets", joined(in.Bundle.SecretsFromHost, ", "), "(none)")
	if in.Bundle.Supervise != nil {
		s := in.Bundle.Supervise
		hold := s.HoldTimeout
		if hold == "" {
			hold = OlderPlanHoldTimeout.String()
		}
		r.field("supervise", []string{"on, " + s.Listen + ", requests held up to " + hold}, "")
	} else {
		r.field("supervise", []string{"off"}, "")
	}
	r.addresses(&in.Network)
	r.backend(in)
}

// replaced puts the "replaces parent's" mark before the lines of a
// section in which the instance's bottle chain drops or overrides what a
// parent had (Instance.ReplacesParent); empty is what an empty section
// shows.
func (r *renderer) replaced(in *Instance, section string, lines []string, empty string) []string {
	if !slices.Contains(in.ReplacesParent, section) {
		return lines
	}
	if len(lines) == 0 {
		lines = []string{r.c.paint(ansiDim, empty)}
	}
	return append([]string{r.c.paint(ansiYellow, "(replaces parent's)")}, lines...)
}

// envLines lists declared variables by name and the reserved count.
func (r *renderer) envLines(in *Instance) []string {
	var out []string
	for _, v := range DeclaredEnv(in) {
		switch v.Mode {
		case EnvFromHost:
			out = append(out, v.Name+" "+r.c.paint(ansiYellow, "<- $"+v.Source))
		case EnvPrompted:
			out = append(out, v.Name+" "+r.c.paint(ansiYellow, "(prompted)"))
		case EnvProxyToken:
			out = append(out, v.Name+" "+r.c.paint(ansiDim, "(placeholder: the proxy injects the token)"))
		default:
			out = append(out, v.Name)
		}
	}
	if n := ReservedEnvCount(in); n > 0 {
		kinds := "proxy, CA, git"
		if in.Bundle.Supervise != nil {
			kinds += ", supervise"
		}
		out = append(out, r.c.paint(ansiDim, fmt.Sprintf("+ %s set by bottleplan (%s)", plural(n, "variable", "variables"), kinds)))
	}
	return out
}

func (r *renderer) gitGate(in *Instance) {
	g := in.Bundle.GitGate
	if g == nil {
		r.field("git gate", r.replaced(in, "git_gate.repos", nil, "(none)"), "(none)")
		return
	}
	var lines []string
	for _, repo := range g.Repos {
		access := repo.Access
		if access != "read" {
			access = r.c.paint(ansiYellow, access)
		}
		lines = append(lines, fmt.Sprintf("%s -> %s (%s)", repo.Name, repo.Upstream, access))
	}
	r.field("git gate", r.replaced(in, "git_gate.repos", lines, "(no repos)"), "(no repos)")
	if u := gitUser(g.User); u != "" {
		r.field("git user", []string{u}, "")
	}
}

func gitUser(u GitUser) string {
	switch {
	case u.Name != "" && u.Email != "":
		return u.Name + " <" + u.Email + ">"
	case u.Email != "":
		return "<" + u.Email + ">"
	}
	return u.Name
}

// routeLines renders each route as its host with tags ([auth:scheme],
// [ports:...] when not just 443, [websocket] when the route lets the
// agent upgrade to a WebSocket, [dlp:mode]) and one indented line per
// match rule. A route that is not intercepted (a plan compiled before
// every route was) is a blind tunnel whose bytes the bundle cannot read,
// so its DLP mode is shown as not enforced rather than claimed.
func (r *renderer) routeLines(routes []Route) []string {
	var out []string
	for _, rt := range routes {
		s := rt.Host
		if rt.Auth != nil {
			s += " " + r.c.paint(ansiYellow, "[auth:"+rt.Auth.Scheme+"]")
		}
		if !(len(rt.Ports) == 1 && rt.Ports[0] == 443) {
			s += " " + r.c.paint(ansiYellow, "[ports:"+ports(rt.Ports)+"]")
		}
		if rt.Websocket {
			s += " " + r.c.paint(ansiYellow, "[websocket]")
		}
		switch {
		case !rt.Intercept:
			s += " " + r.c.paint(ansiYellow, "[blind tunnel: dlp:"+rt.DLP+" not enforced]")
		case rt.DLP != "":
			s += " [dlp:" + rt.DLP + "]"
		}
		out = append(out, s)
		for _, m := range rt.Matches {
			out = append(out, "  match "+matchString(m))
		}
	}
	return out
}

// joined is xs joined by sep as one value, or no value when xs is empty.
func joined(xs []string, sep string) []string {
	if len(xs) == 0 {
		return nil
	}
	return []string{strings.Join(xs, sep)}
}

func ports(ps []int) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

// matchString renders a match rule: its methods, then its paths as
// type:value; an absent part matches anything.
func matchString(m Match) string {
	methods := "any method"
	if len(m.Methods) > 0 {
		methods = strings.Join(m.Methods, ",")
	}
	paths := "any path"
	if len(m.Paths) > 0 {
		ps := make([]string, len(m.Paths))
		for i, p := range m.Paths {
			ps[i] = p.Type + ":" + p.Value
		}
		paths = strings.Join(ps, " ")
	}
	return methods + " " + paths
}

func (r *renderer) addresses(n *Network) {
	subnet := n.Subnet
	if n.Pinned {
		subnet += " (pinned)"
	}
	r.field("subnet", []string{subnet}, "")
	parts := []string{"gateway " + n.Gateway, "bundle " + n.BundleIP}
	if n.AgentIP != "" {
		parts = append(parts, "agent "+n.AgentIP)
	}
	parts = append(parts, "probe "+n.ProbeIP)
	r.field("addresses", []string{strings.Join(parts, ", ")}, "")
	if n.AllowCIDR != "" {
		r.field("guest net", []string{"may reach only " + n.AllowCIDR}, "")
	}
}

func (r *renderer) backend(in *Instance) {
	parts := []string{in.Backend, "runtime " + in.Runtime}
	if in.Agent.MachineName != "" {
		parts = append(parts, "machine "+in.Agent.MachineName)
	}
	r.field("backend", []string{strings.Join(parts, ", ")}, "")
	if res := in.Agent.Resources; res != nil && (res.CPUs != 0 || res.MemoryMiB != 0 || res.Pids != 0) {
		rs := resourcesString(res)
		if in.Backend == BackendSmolmachines && res.Pids != 0 {
			// The machine's processes live under its own kernel: they
			// take no pids from the host, and smolvm sets no limit.
			rs += " (pids not enforced in a machine)"
		}
		r.field("resources", []string{rs}, "")
	} else {
		r.field("resources", nil, "backend defaults")
	}
	if in.Endpoints.AssignedAtApply {
		r.field("endpoints", []string{"assigned at apply"}, "")
	}
}

// resourcesString renders the agent's limits, each kind named, "no
// limit" for a kind the plan leaves at 0: "2 cpus, memory 4096 MiB,
// pids 4096".
func resourcesString(res *Resources) string {
	cpus, mem, pids := "cpus no limit", "memory no limit", "pids no limit"
	if res.CPUs != 0 {
		cpus = plural(res.CPUs, "cpu", "cpus")
	}
	if res.MemoryMiB != 0 {
		mem = "memory " + strconv.Itoa(res.MemoryMiB) + " MiB"
	}
	if res.Pids != 0 {
		pids = "pids " + strconv.Itoa(res.Pids)
	}
	return cpus + ", " + mem + ", " + pids
}

// promptSummary is the prompt's first non-empty line, quoted and cut at
// 60 characters, and its size.
func promptSummary(p string) []string {
	if strings.TrimSpace(p) == "" {
		return nil
	}
	first := ""
	for l := range strings.SplitSeq(p, "\n") {
		if t := strings.TrimSpace(l); t != "" {
			first = t
			break
		}
	}
	if rs := []rune(first); len(rs) > 60 {
		first = string(rs[:57]) + "..."
	}
	lines := strings.Count(strings.TrimRight(p, "\n"), "\n") + 1
	return []string{fmt.Sprintf("%s (%s, %s)", strconv.Quote(first), plural(lines, "line", "lines"), plural(len(p), "byte", "bytes"))}
}

// argv joins a command for display, quoting words that need it.
func argv(args []string) string {
	s := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$") {
			a = strconv.Quote(a)
		}
		s[i] = a
	}
	return strings.Join(s, " ")
}

// shortDigest keeps the algorithm and the first 12 hex digits.
func shortDigest(d string) string {
	if len(d) > len(DigestPrefix)+12 {
		return d[:len(DigestPrefix)+12]
	}
	return d
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// summary is the closing line: instance counts by backend, then routes,
// repos, host secrets and prompted variables across all instances.
func summary(p *Plan) string {
	backends := map[string]int{}
	routes, repos, prompted := 0, 0, 0
	secrets := map[string]bool{}
	for i := range p.Instances {
		in := &p.Instances[i]
		backends[in.Backend]++
		routes += len(in.Bundle.Proxy.Routes)
		if in.Bundle.GitGate != nil {
			repos += len(in.Bundle.GitGate.Repos)
		}
		prompted += len(in.EnvPrompted)
		for _, h := range in.EnvFromHost {
			secrets[h] = true
		}
		for _, h := range in.Bundle.SecretsFromHost {
			secrets[h] = true
		}
	}
	var per []string
	for _, b := range []string{BackendDocker, BackendSmolmachines} {
		if backends[b] > 0 {
			per = append(per, fmt.Sprintf("%d %s", backends[b], b))
		}
	}
	s := plural(len(p.Instances), "instance", "instances")
	if len(per) > 0 {
		s += " (" + strings.Join(per, ", ") + ")"
	}
	return fmt.Sprintf("%s: %s, %s, %s, %s.", s,
		plural(routes, "egress route", "egress routes"),
		plural(repos, "git repo", "git repos"),
		plural(len(secrets), "host secret", "host secrets"),
		plural(prompted, "prompted variable", "prompted variables"))
}
