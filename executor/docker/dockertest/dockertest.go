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
	"github.com/docker/docker/api/types/image"
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
	if n := removeBuiltImages(); n != "" {
		fmt.Fprintf(os.Stderr, "dockertest: could not remove images this test process built: %s\n", n)
		if code == 0 {
			code = 1
		}
	}
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

// runID makes this test process's binaries, and so its images, its own:
// every test binary is linked with it as Go build ID, so the bundle
// image (tagged by the binary's digest) and the test images are not
// shared with another test process, and removing them at the end cannot
// pull an image from under a test still running elsewhere on the
// daemon.
var runID = func() string {
	var b [6]byte
	rand.Read(b[:])
	return "bottleplan-test-" + hex.EncodeToString(b[:])
}()

// built are the images this process built and removes at its end
// (removeBuiltImages), in build order.
var (
	builtMu sync.Mutex
	built   []string
)

func recordBuilt(ref string) {
	builtMu.Lock()
	built = append(built, ref)
	builtMu.Unlock()
}

// removeBuiltImages removes, newest first, every image recordBuilt
// named and the bundle image of this process's bundle binary, and
// returns what it could not remove ("" when nothing is left).
func removeBuiltImages() string {
	builtMu.Lock()
	refs := append([]string(nil), built...)
	builtMu.Unlock()
	if bundleBin != "" && buildErr == nil {
		if ref, err := docker.BundleImage(bundleBin).Ref(); err == nil {
			refs = append([]string{ref}, refs...)
		}
	}
	if len(refs) == 0 {
		return ""
	}
	c, err := docker.Connect()
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	var left []string
	for i := len(refs) - 1; i >= 0; i-- {
		if err := RemoveImage(c, refs[i]); err != nil {
			left = append(left, err.Error())
		}
	}
	return strings.Join(left, "; ")
}

// RemoveImage removes the image ref, the untagged images built on it
// (the steps a failed build committed: the classic builder keeps them)
// and its untagged parents, unless it is gone already. It never forces:
// an image a container still uses, or a tagged image built on it,
// stays, and that is an error.
func RemoveImage(eng docker.Engine, ref string) error {
	ctx := context.Background()
	insp, err := eng.ImageInspect(ctx, ref)
	if client.IsErrNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove image %s: %w", ref, err)
	}
	if all, err := eng.ImageList(ctx, image.ListOptions{All: true}); err == nil {
		children := map[string][]image.Summary{}
		for _, im := range all {
			children[im.ParentID] = append(children[im.ParentID], im)
		}
		var prune func(id string)
		prune = func(id string) {
			for _, c := range children[id] {
				if len(c.RepoTags) == 0 {
					prune(c.ID)
					eng.ImageRemove(ctx, c.ID, image.RemoveOptions{PruneChildren: true})
				}
			}
		}
		prune(insp.ID)
	}
	_, err = eng.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true})
	if err != nil && !client.IsErrNotFound(err) {
		return fmt.Errorf("remove image %s: %w", ref, err)
	}
	return nil
}

// CleanupImage removes ref when the test ends, whatever the outcome.
func CleanupImage(t testing.TB, eng docker.Engine, ref string) {
	t.Cleanup(func() {
		if err := RemoveImage(eng, ref); err != nil {
			t.Error(err)
		}
	})
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
	cmd := exec.Command("go", "build", "-tags="+tags, "-ldflags=-buildid="+runID, "-o", out, pkg)
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
	// dest is the program's path in the image; "" for /<name>.
	dest string
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
		dest := i.dest
		if dest == "" {
			dest = "/" + i.name
		}
		img := docker.StaticImage{Repo: "bottleplan-test-" + i.name, Binary: bin, Dest: dest, Kind: "test"}
		if i.ref, i.err = img.Ref(); i.err == nil {
			recordBuilt(i.ref)
			_, i.err = img.Build(context.Background(), eng)
		}
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
	standinImage  = &testImage{name: "standin", dest: "/bin/sh"}
	mcpAgentImage = &testImage{name: "mcpagent"}
)

// StandinBase returns the stand-in base image of the recipe tests: FROM
// scratch with testdata/standin at /bin/sh, playing the commands the
// agent recipe runs (sh, apt-get, npm, useradd, rm) without a network.
func StandinBase(t testing.TB, eng docker.Engine) string { return standinImage.get(t, eng) }

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
			InternalName: project + "-" + slug + "-internal", EgressName: plan.EgressNetworkName(project),
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
