package compiler

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/bottleplan/bottleplan/plan"
	"github.com/bottleplan/bottleplan/schema"
)

// Options are the facts about the target host that change a plan. The
// zero value is right for Linux hosts.
type Options struct {
	// UnroutableBridge is true when the host cannot reach bridge network
	// IPs directly (Docker Desktop on macOS and Windows). The endpoints
	// of smolmachines instances are then placeholders that apply fills in,
	// and the plan marks them assigned_at_apply. Docker instances are not
	// affected: their agent lives on the bridge itself.
	UnroutableBridge bool
}

// Defaults used when a manifest leaves them out. schema.Load applies them
// already; Compile applies them again so a hand-built *schema.Manifest
// gives the same plan.
const (
	defaultProject      = "bottleplan"
	defaultAddressPool  = "10.231.0.0/16"
	defaultSubnetPrefix = 28
	defaultRuntime      = "auto"
)

// Compile turns a validated manifest into a plan: one instance per agent,
// sorted by slug. It is pure (no os, no time, no env, no network): the
// same manifest and options give the same plan on any machine.
//
// The plan's PlanDigest is left empty; plan.Encode computes it.
//
// Errors name what is wrong and how to fix it: an agent naming a missing
// bottle, two agents on one pinned subnet, overlapping pins, an exhausted
// pool. All such errors are reported together, one per line, sorted.
func Compile(m *schema.Manifest, opts Options) (*plan.Plan, error) {
	if m == nil {
		return nil, errors.New("no manifest")
	}
	project := orDefault(m.Project, defaultProject)
	poolCIDR := orDefault(m.Defaults.AddressPool, defaultAddressPool)
	prefix := m.Defaults.SubnetPrefix
	if prefix == 0 {
		prefix = defaultSubnetPrefix
	}
	p, err := newPool(poolCIDR, prefix)
	if err != nil {
		return nil, err
	}
	p.salt = project

	slugs := make([]string, 0, len(m.Agents))
	for slug := range m.Agents {
		slugs = append(slugs, slug)
	}
	sort.Strings(slugs)

	var errs []string
	reqs := make([]addrRequest, 0, len(slugs))
	bottles := make(map[string]*schema.Bottle, len(slugs))
	for _, slug := range slugs {
		a := m.Agents[slug]
		if a == nil {
			errs = append(errs, fmt.Sprintf("agent %q is empty", slug))
			continue
		}
		b := m.Bottles[a.Bottle]
		if b == nil {
			errs = append(errs, fmt.Sprintf("agent %q: bottle %q does not exist; declare it under bottles or fix agents.%s.bottle", slug, a.Bottle, slug))
			continue
		}
		if err := checkBottle(a.Bottle, b, m.Defaults.Backend); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		bottles[slug] = b
		r := addrRequest{slug: slug, bottle: a.Bottle}
		if b.Network.Subnet != "" {
			pin, err := parsePin(a.Bottle, b.Network.Subnet)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			r.pin = pin
		}
		reqs = append(reqs, r)
	}
	if len(errs) > 0 {
		return nil, joinSorted(errs)
	}
	subnets, err := allocate(p, reqs)
	if err != nil {
		return nil, err
	}

	out := &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Project:       project,
		AddressPool:   p.prefix.String(),
		Instances:     make([]plan.Instance, len(slugs)),
	}
	// Instances are independent once their subnets are allocated, and
	// the manifest digest depends on nothing else: both run on
	// GOMAXPROCS workers (hashing is most of the cost; at 10000
	// instances about 0.7 s on one core). Each worker writes only its
	// own instances' slots, so the result does not depend on scheduling.
	var digest string
	var digestErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		digest, digestErr = manifestDigest(m)
	}()
	var next atomic.Int64
	for range min(runtime.GOMAXPROCS(0), len(slugs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(slugs) {
					return
				}
				slug := slugs[i]
				b := bottles[slug]
				out.Instances[i] = compileInstance(project, m.Defaults.Backend, slug, m.Agents[slug], b, subnets[slug], b.Network.Subnet != "", opts)
			}
		}()
	}
	wg.Wait()
	if digestErr != nil {
		return nil, digestErr
	}
	out.ManifestDigest = digest
	return out, nil
}

// compileInstance builds one instance. Its inputs are already checked.
func compileInstance(project, defaultBackend, slug string, a *schema.Agent, b *schema.Bottle, subnet netip.Prefix, pinned bool, opts Options) plan.Instance {
	backend := orDefault(b.Backend, orDefault(defaultBackend, plan.BackendDocker))
	base := project + "-" + slug
	net := plan.Network{
		Subnet:       subnet.String(),
		Pinned:       pinned,
		Gateway:      host(subnet, offsetGateway),
		BundleIP:     host(subnet, offsetBundle),
		ProbeIP:      host(subnet, offsetProbe),
		InternalName: base + "-int",
	}
	if backend == plan.BackendDocker {
		net.AgentIP = host(subnet, offsetAgent)
		net.EgressName = base + "-egress"
	} else {
		net.AllowCIDR = net.BundleIP + "/32"
	}

	chain := append([]string(nil), b.Chain...)
	if len(chain) == 0 {
		chain = []string{b.Name}
	}
	inst := plan.Instance{
		Slug:        slug,
		BottleChain: chain,
		Backend:     backend,
		Runtime:     orDefault(b.Runtime, defaultRuntime),
		Network:     net,
		Agent:       compileAgent(base, backend, slug, a, b),
	}
	inst.Bundle = compileBundle(base, net.BundleIP, a, b)
	inst.GuestEnv, inst.EnvFromHost, inst.EnvPrompted = compileEnv(b, net.BundleIP, inst.Bundle.GitGate, gitUser(a, b))
	inst.Endpoints = compileEndpoints(backend, net.BundleIP, inst.Bundle, opts)
	if inst.Bundle.Supervise != nil {
		inst.GuestEnv[plan.GuestSuperviseEnv] = inst.Endpoints.SuperviseURL
		inst.Agent.Prompt = withSupervisePrompt(inst.Agent.Prompt, inst.Endpoints.SuperviseURL)
	}
	inst.ConfigHash = configHashes(&inst)
	return inst
}

// compileEndpoints returns the URLs the agent dials. On smolmachines with
// an unroutable bridge the URLs keep the bundle IP as a placeholder and
// are marked assigned_at_apply: apply replaces them (and the proxy
// variables of the guest env) with the forwarded address it sets up.
func compileEndpoints(backend, bundleIP string, b plan.Bundle, opts Options) plan.Endpoints {
	e := plan.Endpoints{ProxyURL: proxyURL(bundleIP)}
	if b.GitGate != nil {
		e.GitGateURL = fmt.Sprintf("http://%s:%d", bundleIP, plan.GitGatePort)
	}
	if b.Supervise != nil {
		e.SuperviseURL = superviseURL(bundleIP)
	}
	e.AssignedAtApply = backend == plan.BackendSmolmachines && opts.UnroutableBridge
	return e
}

func proxyURL(bundleIP string) string {
	return fmt.Sprintf("http://%s:%d", bundleIP, plan.ProxyPort)
}

// checkBottle refuses the values Compile has no meaning for. schema.Load
// refuses them first with positions; this guards hand-built manifests.
func checkBottle(name string, b *schema.Bottle, defaultBackend string) error {
	switch be := orDefault(b.Backend, orDefault(defaultBackend, plan.BackendDocker)); be {
	case plan.BackendDocker, plan.BackendSmolmachines:
	default:
		return fmt.Errorf("bottle %q: backend %q is not one of %q, %q", name, be, plan.BackendDocker, plan.BackendSmolmachines)
	}
	if t := orDefault(b.AgentProvider.Template, templateClaude); providers[t].command == nil {
		return fmt.Errorf("bottle %q: agent_provider.template %q is not one of %q, %q", name, t, templateClaude, templateCodex)
	}
	if b.Resources == nil || b.Resources.Pids <= 0 {
		// schema.Load gives every bottle its default pids limit; a plan
		// must never run an agent without one.
		return fmt.Errorf("bottle %q: resources.pids is not set (load the manifest with schema.Load, which applies its default)", name)
	}
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// joinSorted returns one error holding msgs sorted, one per line.
// Duplicates (several agents in one faulty bottle) are reported once.
func joinSorted(msgs []string) error {
	sort.Strings(msgs)
	var errs []error
	for i, m := range msgs {
		if i > 0 && msgs[i-1] == m {
			continue
		}
		errs = append(errs, errors.New(m))
	}
	return errors.Join(errs...)
}
