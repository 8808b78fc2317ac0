package smolvm

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestEgressCheckNeedsEventsAndProbe: without `machine egress-events` (a
// range before 1.8.1) or without a probe binary the allow list cannot be
// checked, and provisioning fails closed, naming what is needed; the
// machine is rolled back.
func TestEgressCheckNeedsEventsAndProbe(t *testing.T) {
	cases := map[string]struct {
		edit func(*Backend)
		want string
	}{
		"no egress-events": {func(b *Backend) { b.sp.EgressEvents = "" }, "`machine egress-events` needs smolvm >= 1.8.1"},
		"no probe binary":  {func(b *Backend) { b.r.ProbeBinary = "" }, "no probe binary to check the allow list with"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			b := w.open()
			tc.edit(b)
			err := b.Provision(context.Background(), testSpec(t, "alpha"), testValues(), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("provision = %v, want %q", err, tc.want)
			}
			if ms := w.machines(); len(ms) != 0 {
				t.Errorf("machines left: %v", ms)
			}
			if strings.Contains(w.calls(), "-d --secret-env") {
				t.Error("the agent was launched")
			}
		})
	}
}

// TestVerifyProbeSet: verify's probe set passes on a sound machine and
// fails, probe by probe, on a machine whose DNS is open or whose gateway
// leaks.
func TestVerifyProbeSet(t *testing.T) {
	cases := map[string]struct {
		modes map[string]string
		fail  []string
	}{
		"sound":     {nil, nil},
		"dns open":  {map[string]string{"FAKESMOLVM_DNS_OPEN": "1"}, []string{"smolvm/dns-closed"}},
		"leaky":     {map[string]string{"FAKESMOLVM_LEAKY": "1"}, []string{"smolvm/other-denied", "smolvm/gateway-denied"}},
		"no events": {map[string]string{"FAKESMOLVM_NO_EVENTS": "1"}, []string{"smolvm/other-denied", "smolvm/dns-closed", "smolvm/gateway-denied"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			s := testSpec(t, "alpha")
			if _, err := w.open().Apply(context.Background(), s, testValues()); err != nil {
				t.Fatal(err)
			}
			w.modes = tc.modes
			rs, err := w.open().ProbeEgress(context.Background(), s, true)
			if err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, r := range rs {
				if !r.Pass {
					failed = append(failed, r.Name)
				}
			}
			if strings.Join(failed, " ") != strings.Join(tc.fail, " ") {
				t.Errorf("failed checks = %v, want %v; results:\n%+v", failed, tc.fail, rs)
			}
			if len(rs) != 4 {
				t.Errorf("%d results, want 4 (proxy, other, dns, gateway)", len(rs))
			}
		})
	}
}

// TestExecAttached: Exec runs `machine exec -i [-t]` with the caller's
// stdio, passes the guest's exit code back, and refuses a machine that is
// not the project's.
func TestExecAttached(t *testing.T) {
	w := newWorld(t)
	s := testSpec(t, "alpha")
	ctx := context.Background()
	if _, err := w.open().Apply(ctx, s, testValues()); err != nil {
		t.Fatal(err)
	}
	w.calls()
	var out strings.Builder
	b := w.open()
	if err := b.Exec(ctx, s.Project, s.Name, true, []string{"sh"}, Stdio{In: strings.NewReader(""), Out: &out, Err: &out}); err != nil {
		t.Fatalf("exec sh: %v (%s)", err, out.String())
	}
	err := b.Exec(ctx, s.Project, s.Name, false, []string{"false"}, Stdio{Out: &out, Err: &out})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Errorf("exec false = %v, want exit 1", err)
	}
	if err := b.Exec(ctx, "other", s.Name, true, []string{"sh"}, Stdio{}); err == nil || !strings.Contains(err.Error(), "leaves it alone") {
		t.Errorf("exec in another project's machine = %v", err)
	}
	want := "smolvm --version\nsmolvm machine ls --json\nsmolvm machine exec --name acme-alpha -i -t -- sh\n" +
		"smolvm machine ls --json\nsmolvm machine exec --name acme-alpha -i -- false\nsmolvm machine ls --json\n"
	if got := w.calls(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
}
