package smolvm

import (
	"context"
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
