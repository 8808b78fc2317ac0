package schema

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// resolve follows every bottle's extends chain, merges child over parent
// and applies the defaults of inherited fields.
//
// Merge rules (../shared/spec/manifest.md): env per key (child wins);
// agent_provider and git_gate.user per field; git_gate.repos, egress,
// supervise, network, resources, runtime and backend replaced whole when
// the child sets them (an explicit empty list or map clears). dockerfile
// and image are one choice: a child that sets either drops the other one
// it would inherit, since the two are exclusive.
//
// names holds every bottle name written, valid or not; bottles only those
// that passed their checks, broken the others (for the chains a missing
// parent prints). A bottle whose chain runs through an invalid one is
// left out without a further error.
func (l *loader) resolve(bottles, broken map[string]*rawBottle, names map[string]bool, defs Defaults) map[string]*Bottle {
	out := map[string]*Bottle{}
	reported := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(bottles)) {
		chain, ok := l.chain(name, bottles, broken, names, reported)
		if !ok {
			continue
		}
		b := merge(chain, defs)
		l.defaultResources(b)
		if b.Supervise && b.HoldTimeout == 0 {
			b.HoldTimeout = l.sc.holdTimeout
		} else if !b.Supervise {
			b.HoldTimeout = 0
		}
		l.checkDLP(b, chain)
		out[name] = b
	}
	return out
}

// checkBroken checks what can be checked of the bottles that failed their
// own checks. They stay out of resolve, so their mistakes are not repeated
// for every child, but two more mistakes are their own and every error is
// reported at once: an `extends` naming no bottle, and a route asking for
// dlp "supervise" on a bottle that does not supervise (judged on the
// bottle merged over its parents when those are all valid). Cycles are
// only judged among valid bottles.
func (l *loader) checkBroken(broken, bottles map[string]*rawBottle, names map[string]bool, defs Defaults) {
	for _, name := range slices.Sorted(maps.Keys(broken)) {
		b := broken[name]
		chain := []*rawBottle{b}
		if b.Extends != nil {
			if !names[*b.Extends] {
				l.missingParent(name, *b.Extends, names, broken, bottles)
				continue
			}
			parents, ok := validChain(*b.Extends, bottles)
			if !ok {
				continue
			}
			chain = append(parents, b)
		}
		l.checkDLP(merge(chain, defs), chain)
	}
}

// validChain returns the root-first chain of name through valid bottles
// only, reporting nothing; false when it meets a missing or invalid
// bottle or a cycle.
func validChain(name string, bottles map[string]*rawBottle) ([]*rawBottle, bool) {
	var rev []*rawBottle
	seen := map[string]bool{}
	for cur := name; ; {
		b := bottles[cur]
		if b == nil || seen[cur] {
			return nil, false
		}
		seen[cur] = true
		rev = append(rev, b)
		if b.Extends == nil {
			break
		}
		cur = *b.Extends
	}
	slices.Reverse(rev)
	return rev, true
}

// missingParent reports that bottle name extends parent, which no bottle
// of the manifest is called, with the longest chain that runs into it
// (a -> name -> parent). The "did you mean" leaves out name and every
// bottle whose chain runs through it: extending one of them would make
// a cycle. sets hold every bottle written, valid or not.
func (l *loader) missingParent(name, parent string, names map[string]bool, sets ...map[string]*rawBottle) {
	if l.links == nil {
		l.links = findMissingLinks(sets, names)
	}
	chain := l.links.chains[name]
	if chain == nil {
		chain = []string{name}
	}
	p := sels("bottles", name, "extends")
	msg := fmt.Sprintf("bottle %q extends %q, which does not exist: %s -> %s", name, parent, strings.Join(chain, " -> "), parent)
	var known []string
	for _, n := range slices.Sorted(maps.Keys(names)) {
		if n != name && l.links.into[n] != name {
			known = append(known, n)
		}
	}
	if s := suggest(parent, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	l.errorf(l.valuePos(p), p, "%s", msg)
}

// missingLinks describes the bottles whose extends names no bottle.
type missingLinks struct {
	// into maps every bottle whose chain runs into such a bottle to it
	// (that bottle maps to itself).
	into map[string]string
	// chains maps each such bottle to the longest chain of bottles that
	// runs into it, child first and ending with it; the first by name
	// among chains of equal length.
	chains map[string][]string
}

// findMissingLinks follows the extends of every bottle in sets once.
func findMissingLinks(sets []map[string]*rawBottle, names map[string]bool) *missingLinks {
	parents := map[string]string{}
	for _, set := range sets {
		for n, b := range set {
			if b.Extends != nil {
				parents[n] = *b.Extends
			}
		}
	}
	links := &missingLinks{into: map[string]string{}, chains: map[string][]string{}}
	dist := map[string]int{}
	done := map[string]bool{}
	starts := slices.Sorted(maps.Keys(parents))
	for _, start := range starts {
		// Walk up to a bottle already done, the end of the chain, a
		// missing parent or a cycle; then fill in the path walked.
		var path []string
		on := map[string]bool{}
		link, d := "", 0
		for cur := start; ; {
			if done[cur] {
				link, d = links.into[cur], dist[cur]
				break
			}
			if on[cur] {
				link = "" // a cycle, reported on its own
				break
			}
			parent, ok := parents[cur]
			if !ok {
				break
			}
			path = append(path, cur)
			on[cur] = true
			if !names[parent] {
				link, d = cur, -1
				break
			}
			cur = parent
		}
		for i := len(path) - 1; i >= 0; i-- {
			d++
			done[path[i]] = true
			if link != "" {
				links.into[path[i]] = link
				dist[path[i]] = d
			}
		}
	}
	for _, n := range starts {
		link := links.into[n]
		if link == "" || links.chains[link] != nil && dist[n] < len(links.chains[link]) {
			continue
		}
		var chain []string
		for cur := n; cur != link; cur = parents[cur] {
			chain = append(chain, cur)
		}
		links.chains[link] = append(chain, link)
	}
	return links
}

// chain returns the bottles from the root to name, or reports why there
// is none.
func (l *loader) chain(name string, bottles, broken map[string]*rawBottle, names, reported map[string]bool) ([]*rawBottle, bool) {
	var rev []*rawBottle
	seen := map[string]int{}
	cur := name
	for {
		b := bottles[cur]
		if b == nil {
			return nil, false // invalid bottle, already reported
		}
		seen[cur] = len(rev)
		rev = append(rev, b)
		if b.Extends == nil {
			break
		}
		parent := *b.Extends
		p := sels("bottles", cur, "extends")
		if i, loop := seen[parent]; loop {
			if i != 0 {
				return nil, false // leads into a cycle reported for its members
			}
			cycle := make([]string, 0, len(rev))
			for _, x := range rev {
				cycle = append(cycle, x.name)
			}
			// Report each cycle once, at the extends of its first bottle
			// by name.
			c := rotate(cycle, slices.Min(cycle))
			key := strings.Join(c, ",")
			if !reported[key] {
				reported[key] = true
				p = sels("bottles", c[0], "extends")
				if len(c) == 1 {
					l.errorf(l.valuePos(p), p, "bottle %q extends itself: %s -> %s", c[0], c[0], c[0])
				} else {
					l.errorf(l.valuePos(p), p, "extends cycle: %s -> %s", strings.Join(c, " -> "), c[0])
				}
			}
			return nil, false
		}
		if !names[parent] {
			if cur == name {
				l.missingParent(cur, parent, names, bottles, broken)
			}
			return nil, false
		}
		cur = parent
	}
	slices.Reverse(rev)
	return rev, true
}

// rotate returns cycle starting at first.
func rotate(cycle []string, first string) []string {
	i := slices.Index(cycle, first)
	return append(slices.Clone(cycle[i:]), cycle[:i]...)
}

// merge folds a root-first chain into one resolved Bottle.
func merge(chain []*rawBottle, defs Defaults) *Bottle {
	b := &Bottle{
		Env:     map[string]EnvValue{},
		GitGate: GitGate{Repos: map[string]Repo{}},
		Egress:  Egress{Routes: []Route{}},
	}
	for _, r := range chain {
		b.Name = r.name
		b.Chain = append(b.Chain, r.name)
		if ap := r.AgentProvider; ap != nil {
			if ap.Template != nil {
				b.AgentProvider.Template = *ap.Template
			}
			if ap.AuthToken != nil {
				b.AgentProvider.AuthToken = *ap.AuthToken
			}
			if ap.Dockerfile != nil {
				b.AgentProvider.Dockerfile, b.AgentProvider.DockerfileDigest = ap.rel, ap.digest
				b.AgentProvider.Image = ""
			}
			if ap.Image != nil {
				b.AgentProvider.Image = *ap.Image
				b.AgentProvider.Dockerfile, b.AgentProvider.DockerfileDigest = "", ""
			}
		}
		for k, v := range r.Env {
			ev, _ := envValue(v)
			b.Env[k] = ev
		}
		if gg := r.GitGate; gg != nil {
			if u := gg.User; u != nil {
				if u.Name != "" {
					b.GitGate.User.Name = u.Name
				}
				if u.Email != "" {
					b.GitGate.User.Email = u.Email
				}
			}
			if gg.Repos != nil {
				b.GitGate.Repos = maps.Clone(gg.Repos)
			}
		}
		if r.Egress != nil {
			b.Egress = Egress{Routes: slices.Clone(r.Egress.Routes)}
			if b.Egress.Routes == nil {
				b.Egress.Routes = []Route{}
			}
		}
		if r.Supervise != nil {
			b.Supervise, b.HoldTimeout = r.Supervise.On, r.Supervise.holdTimeout
		}
		if r.Network != nil {
			b.Network = *r.Network
		}
		if r.Resources != nil {
			res := *r.Resources
			b.Resources = &res
		}
		if r.Runtime != nil {
			b.Runtime = *r.Runtime
		}
		if r.Backend != nil {
			b.Backend = *r.Backend
		}
	}
	if b.AgentProvider.Template == "" {
		b.AgentProvider.Template = "claude"
	}
	if b.Runtime == "" {
		b.Runtime = "auto"
	}

	if b.Backend == "" {
		b.Backend = defs.Backend
	}
	for i := range b.Egress.Routes {
		r := &b.Egress.Routes[i]
		if r.Ports == nil {
			r.Ports = []int{443}
		}
		if r.DLP.OutboundOnMatch == "" {
			r.DLP.OutboundOnMatch = "block"
			if b.Supervise {
				r.DLP.OutboundOnMatch = "supervise"
			}
		}
	}
	return b
}

// defaultResources gives b the schema's #ResourcesDefaults for what it
// leaves out, a missing resources block included, so every agent has a
// pids limit.
func (l *loader) defaultResources(b *Bottle) {
	if b.Resources == nil {
		b.Resources = &Resources{}
	}
	if b.Resources.Pids == 0 {
		b.Resources.Pids = l.sc.resources.Pids
	}
}

// checkDLP reports routes that ask to supervise in a bottle that does not
// supervise, at the route as written (possibly in a parent).
func (l *loader) checkDLP(b *Bottle, chain []*rawBottle) {
	if b.Supervise {
		return
	}
	owner := ""
	for _, r := range chain {
		if r.Egress != nil {
			owner = r.name
		}
	}
	if owner == "" {
		return
	}
	for i, r := range writtenRoutes(chain) {
		if r.DLP.OutboundOnMatch != "supervise" {
			continue
		}
		p := sels("bottles", owner, "egress", "routes")
		p = with(p, i, "dlp", "outbound_on_match")
		msg := "outbound_on_match \"supervise\" needs supervise: true on the bottle"
		if owner != b.Name {
			msg = fmt.Sprintf("outbound_on_match \"supervise\" needs supervise: true on bottle %q, which inherits this route", b.Name)
		}
		l.errorf(l.valuePos(p), p, "%s", msg)
	}
}

// writtenRoutes returns the routes as written by the last bottle in chain that
// sets egress (before defaults).
func writtenRoutes(chain []*rawBottle) []Route {
	var routes []Route
	for _, r := range chain {
		if r.Egress != nil {
			routes = r.Egress.Routes
		}
	}
	return routes
}
