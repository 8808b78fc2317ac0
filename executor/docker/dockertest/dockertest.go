package dockertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/plan"
)

// Engine connects to the Docker Engine, or skips the test when it is
// unreachable (fails it when BOTTLEPLAN_REQUIRE_DOCKER=1).
func Engine(t testing.TB) *client.Client {
	t.Helper()
	c, err := docker.Connect()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = c.Ping(ctx)
	}
	if err != nil {
		if os.Getenv("BOTTLEPLAN_REQUIRE_DOCKER") == "1" {
			t.Fatalf("Docker Engine unreachable and BOTTLEPLAN_REQUIRE_DOCKER=1: %v", err)
		}
		t.Skipf("Docker Engine unreachable: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var (
	buildOnce sync.Once
	buildDir  string
	bundleBin string
	buildErr  error
)

// Main runs the tests and removes what they built on the host.
func Main(m interface{ Run() int }) int { return Wrap(m).Run() }

// Wrap returns m whose Run also removes what the tests built, for
// harnesses (testscript.Main) that call Run themselves.
func Wrap(m interface{ Run() int }) interface{ Run() int } { return wrapped{m} }

type wrapped struct{ m interface{ Run() int } }

func (w wrapped) Run() int {
	code := w.m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

// moduleRoot is the directory of go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

func buildAll() {
	var err error
	if buildDir, err = os.MkdirTemp("", "bottleplan-dockertest-"); err != nil {
		buildErr = err
		return
	}
	// The bundle may dial the tests' local upstream in TEST-NET-3 (see
	// PublicEgress and bundle/dial_testnet.go); a release build never
	// can.
	bundleBin = filepath.Join(buildDir, "bottleplan-bundle")
	buildErr = goBuild("./cmd/bottleplan-bundle", bundleBin, "bottleplan_testnet")
}

// goBuild builds the module's package pkg, static, with tags, into out.
func goBuild(pkg, out, tags string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-tags="+tags, "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return nil
}

// testImage is a FROM scratch image around one of the test programs in
// testdata/, at /<name>; the program and the image are built once per
// test process, when a test first asks for it.
type testImage struct {
	name string
	once sync.Once
	ref  string
	err  error
}

// get returns the image's reference, building it on first use.
func (i *testImage) get(t testing.TB, eng docker.Engine) string {
	t.Helper()
	BundleBinary(t) // makes buildDir
	i.once.Do(func() {
		bin := filepath.Join(buildDir, i.name)
		if i.err = goBuild("./executor/docker/dockertest/testdata/"+i.name, bin, ""); i.err != nil {
			return
		}
		i.ref, i.err = docker.StaticImage{Repo: "bottleplan-test-" + i.name, Binary: bin, Dest: "/" + i.name}.Build(context.Background(), eng)
	})
	if i.err != nil {
		t.Fatal(i.err)
	}
	return i.ref
}

var (
	sleeperImage  = &testImage{name: "sleeper"}
	floodImage    = &testImage{name: "flood"}
	upstreamImage = &testImage{name: "upstream"}
	mcpAgentImage = &testImage{name: "mcpagent"}
)

// BundleBinary returns a static bottleplan-bundle binary, built from the
// source tree once per test process with CGO_ENABLED=0 (never one left on
// the machine).
func BundleBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(buildAll)
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bundleBin
}

// AgentImage returns a FROM scratch image whose entrypoint waits until it
// is stopped (testdata/sleeper).
func AgentImage(t testing.TB, eng docker.Engine) string { return sleeperImage.get(t, eng) }

// FloodImage returns a FROM scratch image of the flood attacker
// (testdata/flood).
func FloodImage(t testing.TB, eng docker.Engine) string { return floodImage.get(t, eng) }

// MCPAgentImage returns a FROM scratch image of the MCP agent
// (testdata/mcpagent): the go-sdk client calling one supervise tool.
func MCPAgentImage(t testing.TB, eng docker.Engine) string { return mcpAgentImage.get(t, eng) }

// Project returns a unique project name and removes everything labelled
// with it when the test ends, whatever the outcome.
func Project(t testing.TB, eng *client.Client) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	p := "bpt-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if n := RemoveProject(eng, p); n > 0 && !t.Failed() {
			t.Logf("cleanup removed %d leftover resources of %s", n, p)
		}
	})
	return p
}

// RemoveProject removes every container and network labelled with
// project and returns how many it removed.
func RemoveProject(eng *client.Client, project string) int {
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", executor.LabelProject+"="+project))
	n := 0
	cs, _ := eng.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	for _, c := range cs {
		if eng.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}) == nil {
			n++
		}
	}
	ns, _ := eng.NetworkList(ctx, network.ListOptions{Filters: f})
	for _, nw := range ns {
		if eng.NetworkRemove(ctx, nw.ID) == nil {
			n++
		}
	}
	return n
}

// Owned lists the names of the containers and networks labelled with
// project, sorted by kind then name.
func Owned(t testing.TB, eng *client.Client, project string) []string {
	t.Helper()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", executor.LabelProject+"="+project))
	cs, err := eng.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := eng.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, "container "+strings.TrimPrefix(c.Names[0], "/"))
	}
	for _, n := range ns {
		out = append(out, "network "+n.Name)
	}
	return out
}

// SmolPlan is a one-instance smolmachines plan of project (slug "a"): the
// bundle on a real Docker bridge, the agent a machine of the fake smolvm
// running /sleeper, with one host-copied variable.
func SmolPlan(project, image string) *plan.Plan {
	p := Plan(project, image, "a")
	in := &p.Instances[0]
	in.Backend = plan.BackendSmolmachines
	in.Network.EgressName, in.Network.AgentIP = "", ""
	in.Network.AllowCIDR = in.Network.BundleIP + "/32"
	in.Agent.ContainerName, in.Agent.MachineName = "", project+"-a"
	in.Agent.Command = []string{"/sleeper"}
	in.EnvFromHost = map[string]string{"ANTHROPIC_API_KEY": "HOST_ANTHROPIC_KEY"}
	return p
}

// Plan returns a plan of project with one docker instance per slug, each
// on its own pinned /28 inside a /24 picked at random from 10.128.0.0/9
// (so parallel test runs rarely meet), running image.
func Plan(project, image string, slugs ...string) *plan.Plan {
	var b [2]byte
	rand.Read(b[:])
	base := fmt.Sprintf("10.%d.%d", 128+int(b[0])%127, b[1])
	p := &plan.Plan{FormatVersion: plan.FormatVersion, ManifestDigest: "sha256:test", Project: project, AddressPool: base + ".0/24"}
	for i, s := range slugs {
		p.Instances = append(p.Instances, Instance(project, s, image, fmt.Sprintf("%s.%d", base, 16*i)))
	}
	p.PlanDigest = "sha256:test-" + project
	return p
}

// Instance returns a docker instance whose subnet starts at the address
// net0 (a /28).
func Instance(project, slug, image, net0 string) plan.Instance {
	ip := func(n int) string {
		i := strings.LastIndex(net0, ".")
		var last int
		fmt.Sscan(net0[i+1:], &last)
		return fmt.Sprintf("%s.%d", net0[:i], last+n)
	}
	bundleIP := ip(2)
	return plan.Instance{
		Slug: slug, BottleChain: []string{"test"}, Backend: plan.BackendDocker, Runtime: "auto",
		Network: plan.Network{
			Subnet: net0 + "/28", Pinned: true, Gateway: ip(1), BundleIP: bundleIP, AgentIP: ip(3), ProbeIP: ip(4),
			InternalName: project + "-" + slug + "-internal", EgressName: project + "-" + slug + "-egress",
		},
		Agent: plan.Agent{
			Name: slug, Image: image, Command: nil, PromptMode: plan.PromptModeClaudeAppendFile,
			ProviderTemplate: "claude", Prompt: "You are " + slug + ".\n", ContainerName: project + "-" + slug + "-agent",
		},
		GuestEnv: map[string]string{"HTTPS_PROXY": "http://" + bundleIP + ":3128", "SSL_CERT_FILE": plan.GuestCAFile},
		Bundle: plan.Bundle{
			ContainerName: project + "-" + slug + "-bundle",
			Proxy:         plan.Proxy{Listen: fmt.Sprintf("%s:%d", bundleIP, plan.ProxyPort), Routes: []plan.Route{{Host: "example.com", Ports: []int{443}, DLP: "block"}}},
		},
		Endpoints:  plan.Endpoints{ProxyURL: "http://" + bundleIP + ":3128"},
		ConfigHash: plan.ConfigHash{Network: "sha256:net-" + slug, Bundle: "sha256:bundle-" + slug, Agent: "sha256:agent-" + slug},
	}
}
