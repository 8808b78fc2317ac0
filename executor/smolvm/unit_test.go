package smolvm

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bottleplan/bottleplan/plan"
)

func TestVersionTable(t *testing.T) {
	cases := map[string]struct {
		out       string
		want      Version
		parseErr  string
		supported bool
	}{
		"newest checked":     {out: "smolvm 1.9.3\n", want: Version{1, 9, 3}, supported: true},
		"first supported":    {out: "smolvm 1.9.0", want: Version{1, 9, 0}, supported: true},
		"last 1.x":           {out: "smolvm 1.99.99", want: Version{1, 99, 99}, supported: true},
		"v prefix":           {out: "smolvm v1.9.1", want: Version{1, 9, 1}, supported: true},
		"pre-release":        {out: "smolvm 1.9.4-rc.1", want: Version{1, 9, 4}, supported: true},
		"build suffix":       {out: "smolvm 1.9.2+abc123", want: Version{1, 9, 2}, supported: true},
		"too old":            {out: "smolvm 1.8.3", want: Version{1, 8, 3}},
		"next major":         {out: "smolvm 2.0.0", want: Version{2, 0, 0}},
		"ancient":            {out: "smolvm 0.1.19", want: Version{0, 1, 19}},
		"other program":      {out: "docker 28.0.1", parseErr: `unexpected ` + "`smolvm --version`" + ` output "docker 28.0.1"`},
		"no version":         {out: "smolvm", parseErr: "want \"smolvm X.Y.Z\""},
		"two components":     {out: "smolvm 1.22", parseErr: `unexpected smolvm version "1.22"`},
		"not a number":       {out: "smolvm 1.x.2", parseErr: `unexpected smolvm version "1.x.2"`},
		"empty output":       {out: "", parseErr: "unexpected"},
		"negative looking":   {out: "smolvm 1.-2.3", parseErr: "unexpected smolvm version"},
		"trailing garbage":   {out: "smolvm 1.9.3 (abc 2026-10-01)", want: Version{1, 9, 3}, supported: true},
		"leading whitespace": {out: "  smolvm 1.9.3", want: Version{1, 9, 3}, supported: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := ParseVersion(tc.out)
			if tc.parseErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.parseErr) {
					t.Fatalf("ParseVersion(%q) error = %v, want %q", tc.out, err, tc.parseErr)
				}
				return
			}
			if err != nil || v != tc.want {
				t.Fatalf("ParseVersion(%q) = %v, %v; want %v", tc.out, v, err, tc.want)
			}
			sp, err := SpellingFor(v)
			if !tc.supported {
				want := "smolvm " + v.String() + " is not supported (supported: >= 1.9.0, < 2.0.0)"
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("SpellingFor(%v) error = %v, want %q", v, err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("SpellingFor(%v): %v", v, err)
			}
			if sp.Net != "--net" || sp.AllowCIDR != "--allow-cidr" || sp.SecretEnv != "--secret-env" {
				t.Errorf("SpellingFor(%v) = %+v", v, sp)
			}
		})
	}
}

// TestVersionTableRowsComplete: every supported row spells every flag the
// package uses, except SecretEnv, whose absence is a documented refusal.
func TestVersionTableRowsComplete(t *testing.T) {
	for _, r := range releases {
		if !r.Min.less(r.Below) {
			t.Errorf("row %v..%v is empty", r.Min, r.Below)
		}
		sp := r.Spelling
		for name, v := range map[string]string{
			"Name": sp.Name, "From": sp.From, "Image": sp.Image, "Net": sp.Net, "NetBackend": sp.NetBackend,
			"NetBackendVirtio": sp.NetBackendVirtio, "AllowCIDR": sp.AllowCIDR, "AllowHost": sp.AllowHost, "Env": sp.Env,
			"Label": sp.Label, "CPUs": sp.CPUs, "Mem": sp.Mem, "Detach": sp.Detach, "Interactive": sp.Interactive,
			"TTY": sp.TTY, "Force": sp.Force, "PackFromVM": sp.PackFromVM, "PackOutput": sp.PackOutput,
			"SidecarSuffix": sp.SidecarSuffix, "JSON": sp.JSON, "EgressEvents": sp.EgressEvents, "Limit": sp.Limit,
			"CpMode": sp.CpMode, "CpSep": sp.CpSep, "GatewayIP": sp.GatewayIP, "LsNetwork": sp.LsNetwork,
			"LsLabels": sp.LsLabels, "LsState": sp.LsState, "StateRunning": sp.StateRunning,
		} {
			if v == "" {
				t.Errorf("row from %v: %s is empty", r.Min, name)
			}
		}
	}
	for i := 1; i < len(releases); i++ {
		if releases[i].Min.less(releases[i-1].Below) {
			t.Errorf("rows %d and %d overlap", i-1, i)
		}
	}
}

func TestNoSecretMechanismRefuses(t *testing.T) {
	sp := releases[0].Spelling
	sp.SecretEnv = ""
	s := testSpec(t, "alpha")
	err := checkSecrets(sp, s)
	if !errors.Is(err, errNoSecretFlag) {
		t.Fatalf("checkSecrets without a secret flag = %v, want errNoSecretFlag", err)
	}
	if !strings.Contains(err.Error(), "[ANTHROPIC_API_KEY GH_TOKEN]") {
		t.Errorf("error does not name the variables: %v", err)
	}
	s.Secrets = nil
	if err := checkSecrets(sp, s); err != nil {
		t.Errorf("checkSecrets with no secrets = %v, want nil", err)
	}
}

func TestSpecFor(t *testing.T) {
	s := testSpec(t, "alpha")
	want := []Secret{{Guest: "ANTHROPIC_API_KEY", HostName: "ANTHROPIC_API_KEY"}, {Guest: "GH_TOKEN", Prompted: true}}
	if d := cmp.Diff(want, s.Secrets); d != "" {
		t.Errorf("secrets (-want +got):\n%s", d)
	}
	if s.Name != "acme-alpha" || s.AllowCIDR() != "10.242.7.2/32" || s.CPUs != 2 || s.MemoryMiB != 2048 {
		t.Errorf("spec = %+v", s)
	}

	bad := map[string]struct {
		edit func(*plan.Instance)
		img  AgentImage
		want string
	}{
		"docker backend":   {edit: func(i *plan.Instance) { i.Backend = plan.BackendDocker }, want: `backend "docker"`},
		"no machine name":  {edit: func(i *plan.Instance) { i.Agent.MachineName = "" }, want: "no machine_name"},
		"ipv6 bundle":      {edit: func(i *plan.Instance) { i.Network.BundleIP = "fd00::2" }, want: "not an IPv4 address"},
		"no command":       {edit: func(i *plan.Instance) { i.Agent.Command = nil }, want: "no agent command"},
		"no digest":        {edit: func(*plan.Instance) {}, img: AgentImage{Ref: "x"}, want: "digest are required"},
		"literal and host": {edit: func(i *plan.Instance) { i.GuestEnv["ANTHROPIC_API_KEY"] = "x" }, want: `"ANTHROPIC_API_KEY" is set twice`},
		"host and prompt":  {edit: func(i *plan.Instance) { i.EnvPrompted["ANTHROPIC_API_KEY"] = "" }, want: "is set twice"},
		"bad env name":     {edit: func(i *plan.Instance) { i.GuestEnv["A=B"] = "x" }, want: "not a valid variable name"},
		"bad secret name":  {edit: func(i *plan.Instance) { i.EnvPrompted["A B"] = "" }, want: "not a valid variable name"},
		"empty host name":  {edit: func(i *plan.Instance) { i.EnvFromHost["X"] = "" }, want: "names no host variable"},
		"wider allow cidr": {edit: func(i *plan.Instance) { i.Network.AllowCIDR = "10.242.7.0/29" }, want: "is not bundle_ip/32"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			p, inst := testPlan("alpha")
			tc.edit(&inst)
			img := tc.img
			if img.Ref == "" {
				img = AgentImage{Ref: "r", Digest: "sha256:1"}
			}
			if _, err := SpecFor(p.Project, p.PlanDigest, inst, img); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("SpecFor error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	c := Command{
		Args:    []string{"machine", "exec", "--name", "m", "--", "sh", "-c", "echo 'hi' $HOME", ""},
		Secrets: []Secret{{Guest: "B", Prompted: true}, {Guest: "A", HostName: "HOST_A"}},
	}
	want := `BOTTLEPLAN_SECRET_A=<from $HOST_A> BOTTLEPLAN_SECRET_B=<prompted> smolvm machine exec --name m -- sh -c 'echo '\''hi'\'' $HOME' ''`
	if got := c.Render(); got != want {
		t.Errorf("Render =\n%s\nwant\n%s", got, want)
	}
}

func TestRedact(t *testing.T) {
	got := string(redact([]byte("token canary-1 and canary-1 again, canary-2"), map[string]string{"A": "canary-1", "B": "canary-2", "C": ""}))
	if want := "token <redacted> and <redacted> again, <redacted>"; got != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
}

func TestParseListAndObserve(t *testing.T) {
	sp := releases[0].Spelling
	out := []byte(`[
  {"name": "zeta", "state": "stopped", "network": false, "labels": {}},
  {"name": "acme-a", "state": "running", "network": true,
   "labels": {"io.bottleplan.project": "acme", "io.bottleplan.role": "agent", "io.bottleplan.instance": "a",
              "io.bottleplan.config-hash": "sha256:h", "io.bottleplan.plan-digest": "sha256:p"}},
  {"name": "other-a", "state": "running", "network": null,
   "labels": {"io.bottleplan.project": "other", "io.bottleplan.role": "agent", "io.bottleplan.instance": "a"}},
  {"name": "acme-bundle", "state": "running", "labels": {"io.bottleplan.project": "acme", "io.bottleplan.role": "bundle"}}
]`)
	ms, err := parseList(sp, out)
	if err != nil {
		t.Fatal(err)
	}
	on := true
	want := []Machine{
		{Name: "acme-a", State: "running", Network: &on, Labels: map[string]string{
			LabelProject: "acme", LabelRole: "agent", LabelInstance: "a", LabelConfigHash: "sha256:h", LabelPlanDigest: "sha256:p"}},
		{Name: "acme-bundle", State: "running", Labels: map[string]string{LabelProject: "acme", LabelRole: "bundle"}},
		{Name: "other-a", State: "running", Labels: map[string]string{LabelProject: "other", LabelRole: "agent", LabelInstance: "a"}},
		{Name: "zeta", State: "stopped", Network: new(bool), Labels: map[string]string{}},
	}
	if d := cmp.Diff(want, ms); d != "" {
		t.Errorf("parseList (-want +got):\n%s", d)
	}
	obs := observe(ms, "acme")
	if len(obs) != 1 || obs["a"].Machine.Name != "acme-a" || obs["a"].ConfigHash != "sha256:h" || obs["a"].PlanDigest != "sha256:p" {
		t.Errorf("observe = %+v, want only acme-a as instance a", obs)
	}
	if len(observe(ms, "")) != 0 {
		t.Error("observe with an empty project matched machines")
	}

	for name, bad := range map[string]string{
		"not json":   `No machines found`,
		"no name":    `[{"state": "running"}]`,
		"bad bool":   `[{"name": "x", "network": "yes"}]`,
		"bad labels": `[{"name": "x", "labels": ["a"]}]`,
	} {
		if _, err := parseList(sp, []byte(bad)); err == nil {
			t.Errorf("%s: parseList accepted %s", name, bad)
		}
	}
}

func TestVerifyMachine(t *testing.T) {
	sp := releases[0].Spelling
	s := testSpec(t, "alpha")
	on, off := true, false
	good := func() Machine {
		return Machine{Name: s.Name, State: "running", Network: &on, Labels: s.Labels()}
	}
	if err := verifyMachine(sp, s, good()); err != nil {
		t.Fatalf("verify good machine: %v", err)
	}
	cases := map[string]struct {
		edit func(*Machine)
		want string
	}{
		"stopped":         {func(m *Machine) { m.State = "stopped" }, `is "stopped" after start`},
		"network off":     {func(m *Machine) { m.Network = &off }, "networking off"},
		"network unknown": {func(m *Machine) { m.Network = nil }, `no "network" field`},
		"label drift": {func(m *Machine) {
			m.Labels = map[string]string{LabelProject: "acme"}
		}, "has label"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := good()
			tc.edit(&m)
			if err := verifyMachine(sp, s, m); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("verify = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestSpecForExamplePlan: every smolmachines instance of the shipped
// example plan becomes a spec whose only allowed destination is the
// reviewed allow_cidr.
func TestSpecForExamplePlan(t *testing.T) {
	b, err := os.ReadFile("../../plan/testdata/example.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, inst := range p.Instances {
		if inst.Backend != plan.BackendSmolmachines {
			continue
		}
		n++
		s, err := SpecFor(p.Project, p.PlanDigest, inst, AgentImage{Ref: "/tmp/agent.tar", Digest: "sha256:ab"})
		if err != nil {
			t.Fatalf("%s: %v", inst.Slug, err)
		}
		if s.AllowCIDR() != inst.Network.AllowCIDR || s.Name != inst.Agent.MachineName {
			t.Errorf("%s: allow %s name %s, want %s and %s", inst.Slug, s.AllowCIDR(), s.Name, inst.Network.AllowCIDR, inst.Agent.MachineName)
		}
		args := strings.Join(createCmd(releases[0].Spelling, s, "x.smolmachine").Args, " ")
		want := "--net --net-backend virtio-net --allow-cidr " + inst.Network.AllowCIDR + " --allow-host " + inst.Network.BundleIP + " "
		if !strings.Contains(args, want) {
			t.Errorf("%s: create args lack %q: %s", inst.Slug, want, args)
		}
	}
	if n == 0 {
		t.Fatal("the example plan has no smolmachines instance")
	}
}

func TestDecide(t *testing.T) {
	sp := releases[0].Spelling
	s := testSpec(t, "alpha")
	on := true
	live := func(edit func(*Machine)) *Machine {
		m := Machine{Name: s.Name, State: "running", Network: &on, Labels: s.Labels(), Launched: true}
		edit(&m)
		return &m
	}
	cases := map[string]struct {
		m      *Machine
		action Action
		reason string
		err    string
	}{
		"missing":       {m: nil, action: ActionCreate, reason: "machine does not exist"},
		"in sync":       {m: live(func(*Machine) {}), action: ActionNone, reason: "in sync"},
		"hash changed":  {m: live(func(m *Machine) { m.Labels = map[string]string{LabelProject: "acme", LabelRole: "agent"} }), action: ActionReplace, reason: "config hash changed"},
		"not launched":  {m: live(func(m *Machine) { m.Launched = false }), action: ActionReplace, reason: "agent never launched (an earlier apply stopped half way)"},
		"stopped":       {m: live(func(m *Machine) { m.State = "stopped" }), action: ActionReplace, reason: "not running (stopped): the agent and its secrets do not survive a restart"},
		"network off":   {m: live(func(m *Machine) { m.Network = new(bool) }), action: ActionReplace, reason: `failed verification: machine "acme-alpha" has networking off although it was created with --net (smolvm's networking pitfall); the agent could not reach its bundle: refusing. Check the smolvm version (docs/smolvm.md)`},
		"foreign":       {m: &Machine{Name: s.Name, State: "running"}, err: "will not touch it"},
		"other project": {m: live(func(m *Machine) { m.Labels = map[string]string{LabelProject: "other", LabelRole: "agent"} }), err: "will not touch it"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := Decide(sp, s, tc.m)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Decide error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || d.Action != tc.action || d.Reason != tc.reason {
				t.Errorf("Decide = %+v, %v; want %v %q", d, err, tc.action, tc.reason)
			}
		})
	}
}
