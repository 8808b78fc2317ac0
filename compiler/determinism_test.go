package compiler

import (
	"bytes"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/bottleplan/bottleplan/plan"
	"github.com/bottleplan/bottleplan/schema"
)

// encodePlan is the plan file's bytes (plan.Encode copies nothing back
// that matters here: it only sets PlanDigest).
func encodePlan(t *testing.T, p *plan.Plan) []byte {
	t.Helper()
	b, err := plan.Encode(p)
	if err != nil {
		t.Fatalf("plan.Encode: %v", err)
	}
	return b
}

// TestCompileDeterministic: map iteration order (random on every range in
// Go) must not reach the plan. Compile the same manifest many times, and
// rebuilt manifests whose maps were filled in another order, and compare
// the canonical bytes.
func TestCompileDeterministic(t *testing.T) {
	want := encodePlan(t, mustCompile(t, baseManifest(), Options{}))
	for i := range 100 {
		m := baseManifest()
		if i%2 == 1 {
			// Refill every map in reverse-sorted key order.
			refill := func(keys []string, put func(string)) {
				for j := len(keys) - 1; j >= 0; j-- {
					put(keys[j])
				}
			}
			env := m.Bottles["dev"].Env
			m.Bottles["dev"].Env = map[string]schema.EnvValue{}
			refill(slices.Sorted(maps.Keys(env)), func(k string) { m.Bottles["dev"].Env[k] = env[k] })
			agents := m.Agents
			m.Agents = map[string]*schema.Agent{}
			refill(slices.Sorted(maps.Keys(agents)), func(k string) { m.Agents[k] = agents[k] })
		}
		got := encodePlan(t, mustCompile(t, m, Options{}))
		if !bytes.Equal(got, want) {
			t.Fatalf("run %d gave different bytes", i)
		}
	}
}

// TestCompileManyDeterministic: the same at scale, where collisions in
// the pool make the placement order matter.
func TestCompileManyDeterministic(t *testing.T) {
	build := func() *schema.Manifest {
		m := manyAgents(300)
		m.Defaults.AddressPool = "10.231.0.0/20"
		m.Defaults.SubnetPrefix = 29 // 512 slots for 300 agents: many collisions
		return m
	}
	first := mustCompile(t, build(), Options{})
	want := encodePlan(t, first)
	for range 5 {
		got := encodePlan(t, mustCompile(t, build(), Options{}))
		if !bytes.Equal(got, want) {
			t.Fatal("compiling 300 agents twice gave different bytes")
		}
	}
	seen := map[string]string{}
	for _, in := range first.Instances {
		if other, dup := seen[in.Network.Subnet]; dup {
			t.Fatalf("%q and %q share %s", other, in.Slug, in.Network.Subnet)
		}
		seen[in.Network.Subnet] = in.Slug
	}
}

// TestCompileNeverReadsEnv: a canary value in the process environment,
// under the names the manifest refers to, never appears in a plan.
func TestCompileNeverReadsEnv(t *testing.T) {
	const canary = "canary-3f1b9c-never-in-a-plan"
	for _, n := range []string{"HOST_GH_PAT", "HOST_DOCS_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "JIRA_TOKEN", "GH_TOKEN", "HOME", "PWD"} {
		t.Setenv(n, canary)
	}
	b := encodePlan(t, mustCompile(t, baseManifest(), Options{}))
	if bytes.Contains(b, []byte(canary)) {
		t.Fatal("a host env value reached the plan")
	}
}

// TestCompilerDeps: the compiler stays pure and light: no Docker client,
// and nothing of CUE besides what package schema itself pulls in (schema
// holds the loader, which uses CUE; the compiler only needs its types).
func TestCompilerDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	deps := func(pkg string) map[string]bool {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		set := map[string]bool{}
		for _, l := range strings.Fields(string(out)) {
			set[l] = true
		}
		return set
	}
	compiler, schemaDeps := deps("./"), deps("../schema")
	for d := range compiler {
		if strings.HasPrefix(d, "github.com/docker/") {
			t.Errorf("compiler depends on %s", d)
		}
		if strings.HasPrefix(d, "cuelang.org/") && !schemaDeps[d] {
			t.Errorf("compiler depends on %s by itself", d)
		}
	}
	for _, forbidden := range []string{"os/exec", "net/http"} {
		if compiler[forbidden] && !schemaDeps[forbidden] {
			t.Errorf("compiler depends on %s", forbidden)
		}
	}
}

// TestCompiledPlanRoundTrips: what Compile returns is a plan the plan
// package accepts back byte for byte (sorted unique slugs, format
// version, digest).
func TestCompiledPlanRoundTrips(t *testing.T) {
	for name, m := range map[string]*schema.Manifest{"base": baseManifest(), "many": manyAgents(50)} {
		b := encodePlan(t, mustCompile(t, m, Options{}))
		p, err := plan.Decode(b)
		if err != nil {
			t.Fatalf("%s: plan.Decode: %v", name, err)
		}
		if again := encodePlan(t, p); !bytes.Equal(again, b) {
			t.Fatalf("%s: decode then encode changed the bytes", name)
		}
	}
}
