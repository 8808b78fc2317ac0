package smolvm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// assertNoCanary fails if a secret value leaked into argv or output.
func assertNoCanary(t *testing.T, where, text string) {
	t.Helper()
	for _, c := range []string{canaryHost, canaryPrompt} {
		if strings.Contains(text, c) {
			t.Errorf("secret value %q leaked into %s:\n%s", c, where, text)
		}
	}
}

// assertUp checks the machine runs, verified, with the agent launched and
// its secrets delivered through the environment.
func assertUp(t *testing.T, w *world, s Spec) {
	t.Helper()
	m, ok := w.machines()[s.Name]
	if !ok {
		t.Fatalf("machine %q does not exist", s.Name)
	}
	if m["state"] != "running" || m["network"] != true {
		t.Errorf("machine %q state=%v network=%v, want running with network", s.Name, m["state"], m["network"])
	}
	// The fake's own record of what the machine was created with (smolvm
	// reports none of it in `machine ls --json`).
	if got := m["allowed_cidrs"]; !cmp.Equal(got, []any{"10.242.7.2/32", "10.242.7.2/32"}) {
		t.Errorf("allowed_cidrs = %v, want the bundle /32 from --allow-cidr and from --allow-host", got)
	}
	if got := m["allowed_hosts"]; !cmp.Equal(got, []any{"10.242.7.2"}) {
		t.Errorf("allowed_hosts = %v, want [10.242.7.2] (DNS closed)", got)
	}
	if m["net_backend"] != "virtio-net" {
		t.Errorf("net_backend = %v, want virtio-net given explicitly", m["net_backend"])
	}
	ag, _ := m["agent"].(map[string]any)
	if ag == nil {
		t.Fatalf("agent was not launched in %q", s.Name)
	}
	env, _ := ag["env"].(map[string]any)
	want := map[string]any{
		"ANTHROPIC_API_KEY": canaryHost, "GH_TOKEN": canaryPrompt,
		"HTTPS_PROXY": "http://10.242.7.2:3128", "NO_PROXY": "",
	}
	if d := cmp.Diff(want, env); d != "" {
		t.Errorf("guest env of the agent (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]any{"claude", "--print", "hello world"}, ag["argv"]); d != "" {
		t.Errorf("agent argv (-want +got):\n%s", d)
	}
	wantFiles := map[string]any{
		"/etc/bottleplan/ca.pem":    map[string]any{"content": testCA, "mode": "644"},
		"/etc/bottleplan/prompt.md": map[string]any{"content": "Fix the flaky test.\n", "mode": "644"},
		LaunchedMarker:              map[string]any{"content": "", "mode": "444"},
		ProbePath:                   map[string]any{"content": "#!probe\n", "mode": "755"},
	}
	if d := cmp.Diff(wantFiles, m["files"]); d != "" {
		t.Errorf("guest files (-want +got):\n%s", d)
	}
	if staged, _ := filepath.Glob(filepath.Join(w.cache, ".files-*")); len(staged) != 0 {
		t.Errorf("staged guest files left on the host: %v", staged)
	}
}

func TestApplyReapplyDestroy(t *testing.T) {
	w := newWorld(t)
	s := testSpec(t, "alpha")
	ctx := context.Background()

	d, err := w.open().Apply(ctx, s, testValues())
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if d.Action != ActionCreate {
		t.Errorf("first apply action = %v, want create", d.Action)
	}
	assertNoCanary(t, "argv", w.rawLog())
	golden(t, "apply", w.calls())
	assertUp(t, w, s)

	d, err = w.open().Apply(ctx, s, testValues())
	if err != nil {
		t.Fatalf("re-apply: %v", err)
	}
	if d.Action != ActionNone {
		t.Errorf("re-apply action = %v (%s), want none", d.Action, d.Reason)
	}
	golden(t, "reapply", w.calls())

	if err := w.open().Destroy(ctx, s.Project, s.Name); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	golden(t, "destroy", w.calls())
	if ms := w.machines(); len(ms) != 0 {
		t.Errorf("machines left after destroy: %v", ms)
	}
	if err := w.open().Destroy(ctx, s.Project, s.Name); err != nil {
		t.Errorf("second destroy: %v", err)
	}
	assertNoCanary(t, "runner log", w.out.String())
}

// TestFailureModes: every failing step leaves nothing behind once destroy
// has run, and a rerun then converges.
func TestFailureModes(t *testing.T) {
	cases := map[string]struct {
		modes   map[string]string
		wantErr string
	}{
		"fail_net_off":     {map[string]string{"FAKESMOLVM_NET_OFF": "1"}, "networking off"},
		"fail_never_ready": {map[string]string{"FAKESMOLVM_NEVER_READY": "1"}, "not ready after 10s (6 probes)"},
		"fail_leaky":       {map[string]string{"FAKESMOLVM_LEAKY": "1"}, "the allow list let it through"},
		"fail_dns_open":    {map[string]string{"FAKESMOLVM_DNS_OPEN": "1"}, "a DNS lookup of n00000007.dns-probe.bottleplan.invalid: want not reached, and smolvm records `resolve n00000007.dns-probe.bottleplan.invalid`, got not reached"},
		"fail_no_events":   {map[string]string{"FAKESMOLVM_NO_EVENTS": "1"}, "smolvm recorded no refusal"},
		"fail_pack":        {map[string]string{"FAKESMOLVM_FAIL": "pack create"}, "pack agent image"},
		"fail_create":      {map[string]string{"FAKESMOLVM_FAIL": "machine create", "FAKESMOLVM_FAIL_NAME": "acme-alpha"}, "create machine"},
		"fail_start":       {map[string]string{"FAKESMOLVM_FAIL": "machine start", "FAKESMOLVM_FAIL_NAME": "acme-alpha"}, "start machine"},
		"fail_pack_start":  {map[string]string{"FAKESMOLVM_FAIL": "machine start", "FAKESMOLVM_FAIL_NAME": "bottleplan-pack-0123abcd"}, "pack agent image"},
		"fail_exec":        {map[string]string{"FAKESMOLVM_FAIL": "machine exec"}, "not ready"},
		"fail_ls":          {map[string]string{"FAKESMOLVM_FAIL": "machine ls"}, "injected failure in `machine ls`"},
		"fail_cp":          {map[string]string{"FAKESMOLVM_FAIL": "machine cp"}, "copy the probe into machine"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			s := testSpec(t, "alpha")
			ctx := context.Background()
			w.modes = tc.modes
			_, err := w.open().Apply(ctx, s, testValues())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("apply error = %v, want one containing %q", err, tc.wantErr)
			}
			assertNoCanary(t, "error", err.Error())
			assertNoCanary(t, "argv", w.rawLog())
			golden(t, name, w.calls())

			w.modes = nil
			if err := w.open().Destroy(ctx, s.Project, s.Name); err != nil {
				t.Fatalf("destroy after failure: %v", err)
			}
			if ms := w.machines(); len(ms) != 0 {
				t.Errorf("machines left after destroy: %v", ms)
			}
			if _, err := w.open().Apply(ctx, s, testValues()); err != nil {
				t.Fatalf("rerun: %v", err)
			}
			assertUp(t, w, s)
			if d, err := w.open().Apply(ctx, s, testValues()); err != nil || d.Action != ActionNone {
				t.Errorf("apply after rerun = %v, %v; want none (converged)", d.Action, err)
			}
			assertNoCanary(t, "runner log", w.out.String())
		})
	}
}

func TestUnsupportedVersion(t *testing.T) {
	w := newWorld(t)
	w.modes = map[string]string{"FAKESMOLVM_VERSION": "1.8.3"}
	_, err := Open(context.Background(), w.runner())
	want := "smolvm 1.8.3 is not supported (supported: >= 1.9.0, < 2.0.0): it lacks `machine create --label` (since 1.8.0), `machine egress-events` (since 1.8.1, needed to check the allow list by behaviour) or `machine cp --mode` (since 1.9.0)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open error = %v, want %q", err, want)
	}
	golden(t, "fail_version", w.calls())
}

func TestReadinessBackoff(t *testing.T) {
	w := newWorld(t)
	s := testSpec(t, "alpha")
	w.modes = map[string]string{"FAKESMOLVM_NEVER_READY": "1"}
	b := w.open()
	if _, err := b.Apply(context.Background(), s, testValues()); err == nil {
		t.Fatal("apply succeeded with a guest that is never ready")
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}
	if d := cmp.Diff(want, w.clock.sleeps); d != "" {
		t.Errorf("sleeps between probes (-want +got):\n%s", d)
	}
}

// TestReadyAfterRetries: a guest that answers on the third probe is ready.
func TestReadyAfterRetries(t *testing.T) {
	w := newWorld(t)
	s := testSpec(t, "alpha")
	b := w.open()
	sidecar, err := b.Pack(context.Background(), s.Image)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Create(context.Background(), s, sidecar); err != nil {
		t.Fatal(err)
	}
	// Not started yet: probes fail until the second sleep starts it.
	startAfter := 2
	calls := 0
	b.r.Clock = &hookClock{fakeClock: w.clock, onSleep: func() {
		calls++
		if calls == startAfter {
			if err := b.Start(context.Background(), s); err != nil {
				t.Error(err)
			}
		}
	}}
	if err := b.WaitReady(context.Background(), s); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if calls != startAfter {
		t.Errorf("slept %d times, want %d", calls, startAfter)
	}
}

type hookClock struct {
	*fakeClock
	onSleep func()
}

func (c *hookClock) Sleep(ctx context.Context, d time.Duration) error {
	err := c.fakeClock.Sleep(ctx, d)
	c.onSleep()
	return err
}

func TestPackOncePerDigest(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a, b := testSpec(t, "alpha"), testSpec(t, "beta")
	be := w.open()
	for _, s := range []Spec{a, b} {
		if _, err := be.Apply(ctx, s, testValues()); err != nil {
			t.Fatalf("apply %s: %v", s.Name, err)
		}
	}
	if n := strings.Count(w.calls(), "smolvm pack create"); n != 1 {
		t.Errorf("pack create ran %d times for one digest, want 1", n)
	}
	entries, _ := os.ReadDir(w.cache)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if d := cmp.Diff([]string{"0123abcd.smolmachine"}, names); d != "" {
		t.Errorf("cache dir (-want +got):\n%s", d)
	}
}

// TestForeignMachineUntouched: a machine of the same name that bottleplan
// did not create is neither replaced nor destroyed.
func TestForeignMachineUntouched(t *testing.T) {
	w := newWorld(t)
	s := testSpec(t, "alpha")
	ctx := context.Background()
	fake := exec.Command("smolvm", "machine", "create", "--name", s.Name, "--net")
	fake.Env = w.runner().Env
	if out, err := fake.CombinedOutput(); err != nil {
		t.Fatalf("create foreign machine: %v\n%s", err, out)
	}
	w.calls()
	be := w.open()
	if _, err := be.Apply(ctx, s, testValues()); err == nil || !strings.Contains(err.Error(), "will not touch it") {
		t.Errorf("apply over a foreign machine: err = %v, want a refusal", err)
	}
	if err := be.Destroy(ctx, s.Project, s.Name); err == nil || !strings.Contains(err.Error(), "leaves it alone") {
		t.Errorf("destroy of a foreign machine: err = %v, want a refusal", err)
	}
	for _, line := range strings.Split(w.calls(), "\n") {
		if strings.Contains(line, "machine delete") || strings.Contains(line, "machine stop") || strings.Contains(line, "machine create") {
			t.Errorf("mutated a foreign machine: %s", line)
		}
	}
	if _, ok := w.machines()[s.Name]; !ok {
		t.Error("foreign machine is gone")
	}
}

// TestConfigChangeReplaces: a new config hash recreates the machine.
func TestConfigChangeReplaces(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	s := testSpec(t, "alpha")
	if _, err := w.open().Apply(ctx, s, testValues()); err != nil {
		t.Fatal(err)
	}
	w.calls()
	s.ConfigHash = "sha256:agent-alpha-v2"
	d, err := w.open().Apply(ctx, s, testValues())
	if err != nil || d.Action != ActionReplace || d.Reason != "config hash changed" {
		t.Fatalf("apply after config change = %+v, %v; want replace (config hash changed)", d, err)
	}
	golden(t, "replace", w.calls())
	if got := w.machines()[s.Name]["labels"].(map[string]any)[LabelConfigHash]; got != s.ConfigHash {
		t.Errorf("config-hash label = %v, want %s", got, s.ConfigHash)
	}
}

func TestDryRun(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	s := testSpec(t, "alpha")
	render := func(cs []Command) string {
		var b strings.Builder
		for _, c := range cs {
			b.WriteString(strings.ReplaceAll(c.Render(), w.cache, "$CACHE"))
			b.WriteString("\n")
		}
		return b.String()
	}

	d, cs, err := w.open().DryRun(ctx, s)
	if err != nil || d.Action != ActionCreate {
		t.Fatalf("dry run = %v, %v; want create", d.Action, err)
	}
	out := render(cs)
	assertNoCanary(t, "dry run", out)
	golden(t, "dryrun_create", out)
	if got := w.calls(); got != "smolvm --version\nsmolvm machine ls --json\n" {
		t.Errorf("dry run ran more than read-only commands:\n%s", got)
	}
	if ms := w.machines(); len(ms) != 0 {
		t.Errorf("dry run created machines: %v", ms)
	}

	if _, err := w.open().Apply(ctx, s, testValues()); err != nil {
		t.Fatal(err)
	}
	s.ConfigHash = "sha256:agent-alpha-v2"
	d, cs, err = w.open().DryRun(ctx, s)
	if err != nil || d.Action != ActionReplace {
		t.Fatalf("dry run after change = %v, %v; want replace", d.Action, err)
	}
	golden(t, "dryrun_replace", render(cs))

	s.ConfigHash = "sha256:agent-alpha"
	if d, cs, err = w.open().DryRun(ctx, s); err != nil || d.Action != ActionNone || len(cs) != 0 {
		t.Errorf("dry run in sync = %v, %d commands, %v; want none and no commands", d.Action, len(cs), err)
	}
}

// TestPackStagingLeavesNoPartialArtifact: a failed pack leaves neither a
// cached artifact nor a staging directory.
func TestPackStagingLeavesNoPartialArtifact(t *testing.T) {
	w := newWorld(t)
	w.modes = map[string]string{"FAKESMOLVM_FAIL": "pack create"}
	if _, err := w.open().Pack(context.Background(), AgentImage{Ref: "x", Digest: "sha256:ff"}); err == nil {
		t.Fatal("pack succeeded under an injected failure")
	}
	entries, _ := os.ReadDir(w.cache)
	if len(entries) != 0 {
		t.Errorf("cache dir not empty after failed pack: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(w.cache, "ff.smolmachine")); !os.IsNotExist(err) {
		t.Errorf("artifact exists after failed pack: %v", err)
	}
}

// TestKilledBeforeLaunchIsReplaced: a bottleplan killed between start and
// launch leaves a running, labelled machine without its agent; the next
// apply replaces it instead of calling it in sync, and the hybrid
// reports it to Diff as never started.
func TestKilledBeforeLaunchIsReplaced(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	s := testSpec(t, "alpha")
	b := w.open()
	sidecar, err := b.Pack(ctx, s.Image)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Create(ctx, s, sidecar); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	obs, err := b.Observe(ctx, s.Project)
	if err != nil {
		t.Fatal(err)
	}
	if r := machineResource(obs["alpha"]); r.State != "created" {
		t.Errorf("hybrid state of a machine never launched = %q, want created", r.State)
	}
	w.calls()
	d, err := w.open().Apply(ctx, s, testValues())
	if err != nil || d.Action != ActionReplace || d.Reason != "agent never launched (an earlier apply stopped half way)" {
		t.Fatalf("apply = %+v, %v; want a replace because the agent never launched", d, err)
	}
	assertUp(t, w, s)
	obs, err = w.open().Observe(ctx, s.Project)
	if err != nil {
		t.Fatal(err)
	}
	if r := machineResource(obs["alpha"]); r.State != "running" {
		t.Errorf("hybrid state after apply = %q, want running", r.State)
	}
}

// TestNoPackCreatesFromArchive: a version-table row without `pack create
// --from-vm` creates each agent machine from the image archive itself.
func TestNoPackCreatesFromArchive(t *testing.T) {
	w := newWorld(t)
	s := testSpec(t, "alpha")
	b := w.open()
	b.sp.PackFromVM = ""
	if _, err := b.Apply(context.Background(), s, testValues()); err != nil {
		t.Fatal(err)
	}
	calls := w.calls()
	if strings.Contains(calls, "pack create") || strings.Contains(calls, "bottleplan-pack-") {
		t.Errorf("packed although the row cannot:\n%s", calls)
	}
	if !strings.Contains(calls, "smolvm machine create --name acme-alpha --image ./testdata/agent.tar --net --net-backend virtio-net ") {
		t.Errorf("the agent machine was not created from the archive:\n%s", calls)
	}
	assertUp(t, w, s)
}
