package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/plan"
	"github.com/google/go-cmp/cmp"
)

// recorder is a Backend that records calls per instance.
type recorder struct {
	mu    sync.Mutex
	calls map[string][]string
	cas   map[string]*CA // CA passed to creates, per instance+role
	fail  string         // "instance/role" whose Create fails
}

func (r *recorder) log(inst, s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string][]string{}
	}
	r.calls[inst] = append(r.calls[inst], s)
}

func (r *recorder) Observe(context.Context, string) (*Observed, error)  { return &Observed{}, nil }
func (r *recorder) Prepare(context.Context, *plan.Plan, *Changes) error { return nil }
func (r *recorder) ReadCA(_ context.Context, b Resource) (*CA, error) {
	r.log(b.Instance, "readca "+b.Name)
	return &CA{CertPEM: []byte("old-cert"), KeyPEM: []byte("old-key")}, nil
}
func (r *recorder) Create(_ context.Context, req CreateRequest) error {
	slug := SharedInstance
	if req.Instance != nil {
		slug = req.Instance.Slug
	}
	r.log(slug, "create "+string(req.Role))
	r.mu.Lock()
	if r.cas == nil {
		r.cas = map[string]*CA{}
	}
	r.cas[slug+"/"+string(req.Role)] = req.CA
	r.mu.Unlock()
	if r.fail == slug+"/"+string(req.Role) {
		return errors.New("boom")
	}
	if err := req.Step("created"); err != nil {
		return err
	}
	return req.Step("started")
}
func (r *recorder) Start(_ context.Context, res Resource, step StepFunc) error {
	r.log(res.Instance, "start "+string(res.Role))
	return step("started")
}
func (r *recorder) Remove(_ context.Context, res Resource, step StepFunc) error {
	r.log(res.Instance, "remove "+string(res.Role))
	return step("removed")
}

func TestApplyOrderPerInstance(t *testing.T) {
	a, b := testInstance("a", "10.0.1"), testInstance("b", "10.0.2")
	p := testPlan(withNetworkHash(a, "sha256:n2"), b)
	ch, err := Diff(p, &Observed{Project: "p", Resources: project(live(a))}, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	if err := Apply(context.Background(), rec, p, ch, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"a": {"readca p-a-bundle", "remove agent", "remove bundle", "remove network-internal",
			"create network-internal", "create bundle", "create agent"},
		"b": {"create network-internal", "create bundle", "create agent"},
	}
	if d := cmp.Diff(want, rec.calls); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	if got := rec.cas["a/agent"]; got == nil || string(got.CertPEM) != "old-cert" {
		t.Errorf("agent a got CA %v, want the one read from its bundle", got)
	}
	nb, ab := rec.cas["b/bundle"], rec.cas["b/agent"]
	if nb == nil || nb != ab || Fingerprint(nb.CertPEM) == "" {
		t.Errorf("instance b: bundle and agent must share one generated CA, got %v and %v", nb, ab)
	}
}

func TestApplyFailureStopsOnlyThatInstance(t *testing.T) {
	p := testPlan(testInstance("a", "10.0.1"), testInstance("b", "10.0.2"))
	ch, _ := Diff(p, &Observed{Project: "p"}, DiffOptions{})
	rec := &recorder{fail: "a/bundle"}
	err := Apply(context.Background(), rec, p, ch, ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), `instance "a": create bundle "p-a-bundle": boom`) {
		t.Fatalf("error = %v", err)
	}
	if slices.Contains(rec.calls["a"], "create agent") {
		t.Errorf("instance a went on after its bundle failed: %v", rec.calls["a"])
	}
	if len(rec.calls["b"]) != 3 {
		t.Errorf("instance b did not complete: %v", rec.calls["b"])
	}
}

func TestApplyOnStepErrorStopsEverything(t *testing.T) {
	p := testPlan(testInstance("a", "10.0.1"))
	for n := 1; n <= 8; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ch, _ := Diff(p, &Observed{Project: "p"}, DiffOptions{})
			rec := &recorder{}
			steps := 0
			stop := errors.New("killed")
			err := Apply(context.Background(), rec, p, ch, ApplyOptions{OnStep: func(Event) error {
				steps++
				if steps == n {
					return stop
				}
				return nil
			}})
			if n < 8 && !errors.Is(err, stop) {
				t.Fatalf("error = %v, want the OnStep error", err)
			}
			if steps != n {
				t.Errorf("%d steps ran, want %d", steps, n)
			}
		})
	}
}

func TestResolveSecrets(t *testing.T) {
	in := testInstance("a", "10.0.1")
	in.Bundle.SecretsFromHost = []string{"HOST_GH_PAT", "TOKEN_B"}
	in.EnvFromHost = map[string]string{"GH_TOKEN": "HOST_GH_PAT"}
	in.EnvPrompted = map[string]string{"JIRA": "Paste a Jira token"}
	p := testPlan(in)
	ch, _ := Diff(p, &Observed{Project: "p"}, DiffOptions{})
	needs := SecretNeeds(p, ch)
	in.Bundle.GitGate = &plan.GitGate{Repos: []plan.Repo{
		{Name: "app", KeyProvider: "static", KeyPath: "~/.ssh/app"},
		{Name: "lib", KeyProvider: "token", TokenRef: "TOKEN_B"},
	}}
	p = testPlan(in)
	ch, _ = Diff(p, &Observed{Project: "p"}, DiffOptions{})
	needs = SecretNeeds(p, ch)
	host := map[string]string{"HOST_GH_PAT": "canary-value-1"}
	keys := map[string]string{}
	lookup := HostSecrets{
		Lookup: func(n string) (string, bool) { v, ok := host[n]; return v, ok },
		ReadKey: func(p string) ([]byte, error) {
			if k, ok := keys[p]; ok {
				return []byte(k), nil
			}
			return nil, errors.New("no such file")
		},
	}
	prompted := func(n SecretNeed) (string, error) { return "prompted-" + n.Name, nil }

	_, err := ResolveSecrets(needs, lookup, prompted)
	if err == nil || !strings.Contains(err.Error(), "TOKEN_B") || !strings.Contains(err.Error(), "ssh key ~/.ssh/app") || strings.Contains(err.Error(), "canary-value-1") {
		t.Fatalf("missing TOKEN_B and key: error = %v, want both named and no value", err)
	}
	host["TOKEN_B"] = "canary-value-2"
	keys["~/.ssh/app"] = "canary-key"
	got, err := ResolveSecrets(needs, lookup, prompted)
	if err != nil {
		t.Fatal(err)
	}
	want := InstanceSecrets{
		Bundle:  []string{"HOST_GH_PAT=canary-value-1", "TOKEN_B=canary-value-2"},
		Agent:   []string{"GH_TOKEN=canary-value-1", "JIRA=prompted-JIRA"},
		SSHKeys: map[string][]byte{"app": []byte("canary-key")},
	}
	if d := cmp.Diff(want, got["a"]); d != "" {
		t.Errorf("secrets (-want +got):\n%s", d)
	}
	if s := fmt.Sprintf("%v %#v %s", got["a"], got["a"], got["a"]); strings.Contains(s, "canary") {
		t.Errorf("formatting secrets leaks values: %s", s)
	}

	// An instance left alone needs nothing.
	ch, _ = Diff(p, &Observed{Project: "p", Resources: project(live(in))}, DiffOptions{})
	if n := SecretNeeds(p, ch); len(n) != 0 {
		t.Errorf("in-sync instance needs %v", n)
	}
}

// gauge is a Backend whose creates report how many run at once.
type gauge struct {
	recorder
	mu            sync.Mutex
	inflight, max int
}

func (g *gauge) Create(ctx context.Context, req CreateRequest) error {
	g.mu.Lock()
	g.inflight++
	g.max = max(g.max, g.inflight)
	g.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	g.mu.Lock()
	g.inflight--
	g.mu.Unlock()
	return req.Step("created")
}

func TestApplyParallelismIsBounded(t *testing.T) {
	var ins []plan.Instance
	for i := range 8 {
		ins = append(ins, testInstance(fmt.Sprintf("i%d", i), fmt.Sprintf("10.0.%d", i)))
	}
	p := testPlan(ins...)
	ch, _ := Diff(p, &Observed{Project: "p"}, DiffOptions{})
	g := &gauge{}
	if err := Apply(context.Background(), g, p, ch, ApplyOptions{Parallelism: 3}); err != nil {
		t.Fatal(err)
	}
	if g.max > 3 || g.max < 2 {
		t.Errorf("at most %d creates ran at once, want 2..3 (instances in parallel, bounded by 3)", g.max)
	}
}
