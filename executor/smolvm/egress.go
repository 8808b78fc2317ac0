package smolvm

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/bottleplan/bottleplan/bundle/probewire"
	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// The allow list is checked by behaviour: `machine ls --json` does not
// report it (src/cli/vm_common.rs machine_status_json, v1.9.0-v1.9.3), and
// reading `allowedCidrs` from `smolvm serve` would only echo the
// configuration back. A probe binary copied into the guest tries a
// destination the allow list must refuse and a DNS lookup the DNS filter
// must refuse; each must fail, and `machine egress-events --json` must
// record the refusal. The record is the proof: a probe can fail for other
// reasons (nothing listens, no route), a refusal by the policy is logged
// only by the policy (crates/smolvm-network/src/egress.rs record_denial).

// ProbePath is where the probe binary (bottleplan-bundle: its `probe`
// subcommand runs verify's probes and prints their results as JSON) is
// copied into the guest. It stays there: it can reach nothing the agent
// cannot.
const ProbePath = "/etc/bottleplan/probe"

const (
	// egressEventsLimit is how many of the newest denials are read back.
	egressEventsLimit = 1000
	// probeTimeoutMS bounds each probe: a refused connect is a dropped
	// SYN, so the guest sees a timeout, not a reset.
	probeTimeoutMS = 2000
	// probeOtherIP is TEST-NET-1 (RFC 5737): never routed, so a probe the
	// allow list failed to stop still reaches nothing outside.
	probeOtherIP = "192.0.2.1"
	// probeDNSServer: the gateway answers UDP/53 to any address itself
	// (crates/smolvm-network/src/udp_relay.rs never relays port 53), so
	// the lookup meets the DNS filter whatever the guest's resolv.conf.
	probeDNSServer = "192.0.2.53:53"
	// probeDNSDomain never resolves (RFC 6761), so an open DNS leaks
	// nothing but the probe name.
	probeDNSDomain = "dns-probe.bottleplan.invalid"
)

// Denial is one entry of `machine egress-events --json`
// (src/agent/manager.rs EgressDenial).
type Denial struct {
	Timestamp string `json:"timestamp"`
	// Operation is "connect" (TCP), "sendto" (UDP) or "resolve" (DNS).
	Operation string `json:"operation"`
	// Dest is "ip:port", or the host name of a refused lookup.
	Dest string `json:"dest"`
}

// egressProbe is one probe with what it must show.
type egressProbe struct {
	target probewire.Target
	// what is the probed destination in words.
	what string
	// reach: the probe must reach its target. Otherwise it must fail and
	// smolvm must have recorded denial.
	reach  bool
	denial Denial
}

// egressProbes is the probe set for s. nonce makes the refused
// destinations of this run unique, so an old record cannot stand in for
// this run's refusal. full adds verify's probes to apply's.
func egressProbes(sp Spelling, s Spec, nonce uint32, full bool) []egressProbe {
	port := strconv.Itoa(20000 + int(nonce%40000))
	other := net.JoinHostPort(probeOtherIP, port)
	host := fmt.Sprintf("n%08x.%s", nonce, probeDNSDomain)
	ps := []egressProbe{
		{
			target: probewire.Target{Name: "proxy-reachable", Kind: probewire.TCP, Addr: net.JoinHostPort(s.BundleIP, strconv.Itoa(plan.ProxyPort)), TimeoutMS: probeTimeoutMS},
			what:   "the bundle's proxy", reach: true,
		},
		{
			target: probewire.Target{Name: "other-denied", Kind: probewire.TCP, Addr: other, TimeoutMS: probeTimeoutMS},
			what:   "an address outside the allow list (" + other + ")", denial: Denial{Operation: "connect", Dest: other},
		},
		{
			target: probewire.Target{Name: "dns-closed", Kind: probewire.DNS, Host: host, Server: probeDNSServer, TimeoutMS: probeTimeoutMS},
			what:   "a DNS lookup of " + host, denial: Denial{Operation: "resolve", Dest: host},
		},
	}
	if full {
		gw := net.JoinHostPort(sp.GatewayIP, strconv.Itoa(20000+int((nonce+1)%40000)))
		ps = append(ps, egressProbe{
			target: probewire.Target{Name: "gateway-denied", Kind: probewire.TCP, Addr: gw, TimeoutMS: probeTimeoutMS},
			what:   "the smolvm gateway, relayed to host loopback (" + gw + ")", denial: Denial{Operation: "connect", Dest: gw},
		})
	}
	return ps
}

// egressCheckCmds are the commands of one egress check on machine name.
func egressCheckCmds(sp Spelling, name, probeBinary, targets string) []Command {
	return []Command{
		cpCmd(sp, name, probeBinary, ProbePath, 0o755),
		probeCmd(sp, name, targets),
		egressEventsCmd(sp, name),
	}
}

// nonce returns the runner's nonce, or a random one.
func (r *Runner) nonce() uint32 {
	if r.Nonce != nil {
		return r.Nonce()
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return binary.BigEndian.Uint32(b[:])
}

// ProbeEgress runs the egress probes in machine s (verify's set when
// full) and judges them: one result per probe, named "smolvm/<probe>".
// It fails, naming the version needed, when this smolvm cannot record
// refusals, and when there is no probe binary.
func (b *Backend) ProbeEgress(ctx context.Context, s Spec, full bool) ([]executor.VerifyResult, error) {
	if b.sp.EgressEvents == "" {
		return nil, fmt.Errorf("machine %q: smolvm %s cannot show what its egress policy refused (`machine egress-events` needs smolvm >= %s), so the allow list cannot be checked: refusing to run the agent; install smolvm >= %s", s.Name, b.version, EgressEventsSince, releases[0].Min)
	}
	if b.r.ProbeBinary == "" {
		return nil, fmt.Errorf("machine %q: no probe binary to check the allow list with: give the path of bottleplan-bundle (--bundle-binary)", s.Name)
	}
	ps := egressProbes(b.sp, s, b.r.nonce(), full)
	targets := make([]probewire.Target, len(ps))
	for i, p := range ps {
		targets[i] = p.target
	}
	tj, err := json.Marshal(targets)
	if err != nil {
		return nil, err
	}
	cmds := egressCheckCmds(b.sp, s.Name, b.r.ProbeBinary, string(tj))
	if _, err := b.r.run(ctx, cmds[0]); err != nil {
		return nil, fmt.Errorf("copy the probe into machine %q: %w", s.Name, err)
	}
	out, err := b.r.run(ctx, cmds[1])
	if err != nil {
		return nil, fmt.Errorf("probe egress of machine %q: %w", s.Name, err)
	}
	var results []probewire.Result
	if err := json.Unmarshal(out, &results); err != nil {
		return nil, fmt.Errorf("probe egress of machine %q: the probe printed no results: %w", s.Name, err)
	}
	out, err = b.r.run(ctx, cmds[2])
	if err != nil {
		return nil, fmt.Errorf("read the egress denials of machine %q: %w", s.Name, err)
	}
	var denials []Denial
	if err := json.Unmarshal(out, &denials); err != nil {
		return nil, fmt.Errorf("decode `smolvm machine %s %s` output: %w", b.sp.EgressEvents, b.sp.JSON, err)
	}
	rs := make([]executor.VerifyResult, len(ps))
	for i, p := range ps {
		rs[i] = judgeEgress(s, p, results, denials)
	}
	return rs, nil
}

// judgeEgress is the report line of probe p.
func judgeEgress(s Spec, p egressProbe, results []probewire.Result, denials []Denial) executor.VerifyResult {
	v := executor.VerifyResult{Instance: s.Instance, Name: "smolvm/" + p.target.Name, Target: p.what}
	i := slices.IndexFunc(results, func(r probewire.Result) bool { return r.Name == p.target.Name && r.Kind == p.target.Kind })
	if p.reach {
		v.Expected = "reached"
	} else {
		v.Expected = fmt.Sprintf("not reached, and smolvm records `%s %s`", p.denial.Operation, p.denial.Dest)
	}
	if i < 0 {
		v.Got = "no result from the probe"
		return v
	}
	r := results[i]
	got := "reached"
	if !r.Reached {
		got = "not reached"
		if r.Error != "" {
			got += " (" + r.Error + ")"
		}
	}
	if p.reach {
		v.Pass, v.Got = r.Reached, got
		return v
	}
	recorded := slices.ContainsFunc(denials, func(d Denial) bool { return d.Operation == p.denial.Operation && d.Dest == p.denial.Dest })
	switch {
	case r.Reached:
		v.Got = got + ": the allow list let it through"
	case !recorded:
		v.Got = got + ", but smolvm recorded no refusal: the failure proves nothing about the allow list"
	default:
		v.Got, v.Pass = got+", refusal recorded", true
	}
	return v
}

// CheckEgress is apply's check after start: the proxy is reachable, an
// address outside the allow list and a DNS lookup are refused, and smolvm
// recorded both refusals. Anything else fails closed.
func (b *Backend) CheckEgress(ctx context.Context, s Spec) error {
	rs, err := b.ProbeEgress(ctx, s, false)
	if err != nil {
		return err
	}
	var bad []string
	for _, r := range rs {
		if !r.Pass {
			bad = append(bad, fmt.Sprintf("%s: want %s, got %s", r.Target, r.Expected, r.Got))
		}
	}
	if len(bad) > 0 {
		return errors.New("machine " + strconv.Quote(s.Name) + " fails the egress check, refusing to run the agent:\n  " + strings.Join(bad, "\n  "))
	}
	return nil
}

// VerifyInstance is `bottleplan verify` for a smolmachines instance of
// project: its machine must be the project's, running with networking
// on, and pass the full probe set (ProbeEgress): the proxy reachable;
// another address, the gateway (host loopback) and DNS refused, each
// refusal recorded by smolvm.
func (b *Backend) VerifyInstance(ctx context.Context, project string, in plan.Instance) ([]executor.VerifyResult, error) {
	s := Spec{Project: project, Instance: in.Slug, Name: in.Agent.MachineName, BundleIP: in.Network.BundleIP}
	ms, err := b.List(ctx)
	if err != nil {
		return nil, err
	}
	m, ok := find(ms, s.Name)
	switch {
	case !ok:
		return nil, fmt.Errorf("machine %q does not exist: apply the plan first", s.Name)
	case !m.Owned(project):
		return nil, fmt.Errorf("machine %q does not carry project %q's labels", s.Name, project)
	case !m.running(b.sp):
		return nil, fmt.Errorf("machine %q is %s, not running: apply the plan again", s.Name, m.State)
	case m.Network == nil || !*m.Network:
		return nil, fmt.Errorf("machine %q has networking off: its agent cannot reach its bundle", s.Name)
	}
	return b.ProbeEgress(ctx, s, true)
}
