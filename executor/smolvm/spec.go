package smolvm

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"

	"github.com/bottleplan/bottleplan/plan"
)

// Labels bottleplan sets on every machine it creates. They mirror the
// labels of the Docker resources (plan spec, "Live resources"); smolvm
// never interprets them and reports them in `machine ls --json`.
const (
	LabelProject    = "io.bottleplan.project"
	LabelInstance   = "io.bottleplan.instance"
	LabelRole       = "io.bottleplan.role"
	LabelConfigHash = "io.bottleplan.config-hash"
	LabelPlanDigest = "io.bottleplan.plan-digest"
	// LabelCAFingerprint is "sha256:<hex>" of the instance CA certificate
	// the agent trusts (GuestCAFile). A Docker agent's fingerprint is read
	// from the file in the container; a machine's file is not readable
	// without booting it, so the machine carries it as a label, set when
	// the file is written at create.
	LabelCAFingerprint = "io.bottleplan.ca-fingerprint"

	// RoleAgent is the LabelRole value of an agent machine.
	RoleAgent = "agent"
)

// IdleCommand is the machine's persistent workload: it keeps the machine
// up without running the image's entrypoint, so the agent starts only
// when Launch runs it with its secrets (smolvm's own idle command).
var IdleCommand = []string{"sleep", "infinity"}

// AgentImage is the agent image as smolvm's `machine create --image`
// takes it (the packer machine's, or the agent machine's where the
// version cannot pack). The caller (the Docker side) exports it first
// with `docker save` and passes the archive path.
type AgentImage struct {
	// Ref is the path of a `docker save` archive (a registry reference
	// would work too, but nothing can be pulled here).
	Ref string
	// Digest is "sha256:<hex>" of the image; the pack cache key.
	Digest string
}

// Spec is everything this package needs to bring up one agent machine.
// It is derived from the plan by SpecFor and holds names only for
// secrets.
type Spec struct {
	Project  string
	Instance string
	// Name is the smolvm machine name (<project>-<slug>).
	Name string
	// BundleIP is the only address the guest may reach.
	BundleIP string
	// Env are the literal guest variables, passed with -e.
	Env map[string]string
	// Secrets are host-copied and prompted guest variables, sorted by
	// Guest; their values never reach argv.
	Secrets []Secret
	// Command is the agent's argv, started by Launch.
	Command   []string
	CPUs      int
	MemoryMiB int
	// ConfigHash and PlanDigest become labels.
	ConfigHash string
	PlanDigest string
	Image      AgentImage
	// Files are written into the guest after verification and before
	// the agent starts (the instance CA certificate, the prompt).
	Files []GuestFile
	// CAFingerprint, when set, becomes LabelCAFingerprint.
	CAFingerprint string
}

// GuestFile is one file put into the guest. Contents are not secret (a
// CA certificate, the prompt from the plan): they pass through a file
// under the cache directory.
type GuestFile struct {
	// Path is absolute in the guest.
	Path    string
	Content []byte
	// Mode is the file's permission bits, e.g. 0o644.
	Mode uint32
}

// AllowCIDR is the one entry the machine's allow list must hold: the
// plan's network.allow_cidr, which SpecFor checks is BundleIP/32.
func (s Spec) AllowCIDR() string { return s.BundleIP + "/32" }

// Labels are the labels the machine is created with.
func (s Spec) Labels() map[string]string {
	l := map[string]string{
		LabelProject:    s.Project,
		LabelInstance:   s.Instance,
		LabelRole:       RoleAgent,
		LabelConfigHash: s.ConfigHash,
		LabelPlanDigest: s.PlanDigest,
	}
	if s.CAFingerprint != "" {
		l[LabelCAFingerprint] = s.CAFingerprint
	}
	return l
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// SpecFor derives the Spec of a smolmachines instance of the plan with
// the given project and plan digest.
func SpecFor(project, planDigest string, inst plan.Instance, img AgentImage) (Spec, error) {
	if inst.Backend != plan.BackendSmolmachines {
		return Spec{}, fmt.Errorf("instance %q has backend %q, not %q", inst.Slug, inst.Backend, plan.BackendSmolmachines)
	}
	if inst.Agent.MachineName == "" {
		return Spec{}, fmt.Errorf("instance %q has no machine_name: re-run `bottleplan plan`", inst.Slug)
	}
	ip, err := netip.ParseAddr(inst.Network.BundleIP)
	if err != nil || !ip.Is4() {
		return Spec{}, fmt.Errorf("instance %q: bundle_ip %q is not an IPv4 address", inst.Slug, inst.Network.BundleIP)
	}
	if a := inst.Network.AllowCIDR; a != "" && a != ip.String()+"/32" {
		return Spec{}, fmt.Errorf("instance %q: allow_cidr %q is not bundle_ip/32 (%s/32): the plan is inconsistent; re-run `bottleplan plan`", inst.Slug, a, ip)
	}
	if len(inst.Agent.Command) == 0 {
		return Spec{}, fmt.Errorf("instance %q has no agent command", inst.Slug)
	}
	if img.Ref == "" || img.Digest == "" {
		return Spec{}, fmt.Errorf("instance %q: the agent image reference and digest are required to pack it", inst.Slug)
	}
	s := Spec{
		Project:    project,
		Instance:   inst.Slug,
		Name:       inst.Agent.MachineName,
		BundleIP:   ip.String(),
		Env:        map[string]string{},
		Command:    append([]string(nil), inst.Agent.Command...),
		ConfigHash: inst.ConfigHash.Agent,
		PlanDigest: planDigest,
		Image:      img,
	}
	if r := inst.Agent.Resources; r != nil {
		s.CPUs, s.MemoryMiB = r.CPUs, r.MemoryMiB
	}
	for k, v := range inst.GuestEnv {
		if !envName.MatchString(k) {
			return Spec{}, fmt.Errorf("instance %q: guest_env name %q is not a valid variable name", inst.Slug, k)
		}
		s.Env[k] = v
	}
	seen := map[string]bool{}
	add := func(sec Secret) error {
		if !envName.MatchString(sec.Guest) {
			return fmt.Errorf("instance %q: guest variable name %q is not a valid variable name", inst.Slug, sec.Guest)
		}
		if _, lit := s.Env[sec.Guest]; lit || seen[sec.Guest] {
			return fmt.Errorf("instance %q: guest variable %q is set twice", inst.Slug, sec.Guest)
		}
		seen[sec.Guest] = true
		s.Secrets = append(s.Secrets, sec)
		return nil
	}
	for g, h := range inst.EnvFromHost {
		if h == "" {
			return Spec{}, fmt.Errorf("instance %q: env_from_host %q names no host variable", inst.Slug, g)
		}
		if err := add(Secret{Guest: g, HostName: h}); err != nil {
			return Spec{}, err
		}
	}
	for g := range inst.EnvPrompted {
		if err := add(Secret{Guest: g, Prompted: true}); err != nil {
			return Spec{}, err
		}
	}
	sort.Slice(s.Secrets, func(i, j int) bool { return s.Secrets[i].Guest < s.Secrets[j].Guest })
	return s, nil
}

// errNoSecretFlag is returned when a spec needs secrets and the smolvm
// version has no way to pass them off argv.
var errNoSecretFlag = errors.New("this smolvm version has no secret mechanism (--secret-env)")

// checkSecrets refuses a spec whose secrets this spelling cannot carry.
func checkSecrets(sp Spelling, s Spec) error {
	if len(s.Secrets) == 0 || sp.SecretEnv != "" {
		return nil
	}
	names := make([]string, len(s.Secrets))
	for i, sec := range s.Secrets {
		names[i] = sec.Guest
	}
	return fmt.Errorf("machine %q needs host-copied or prompted env %v, and %w; passing them with -e would put the values on argv: upgrade smolvm (supported: %s)", s.Name, names, errNoSecretFlag, SupportedRange())
}
