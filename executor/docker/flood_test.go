package docker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/bottleplan/bottleplan/bundle"
	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

// floodRequests is how many denied requests the flood attacker sends.
const floodRequests = 100_000

// TestAttackFloodDenials is the attack "the agent fills the host's disk
// and pushes held requests out of the supervise list by flooding the
// bundle with requests it denies": from the agent's side of the internal
// network (the probe address, capabilities as the agent's), one request
// a supervise rule holds, then 100k denied requests, each to its own host
// with a 2 KiB path. Afterwards the bundle's log, as the Engine keeps it,
// is under the container's log cap, and the supervise list still shows
// the held request. Nothing leaves the machine: every denied request is
// answered by the bundle before any name is resolved.
func TestAttackFloodDenials(t *testing.T) {
	if testing.Short() {
		t.Skip("floods a bundle with 100k requests")
	}
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "a")
	in := &p.Instances[0]
	bundleIP := in.Network.BundleIP
	// The held request ends by its timeout, so the flood follows soon.
	in.Bundle.Supervise = &plan.Supervise{Listen: fmt.Sprintf("%s:%d", bundleIP, plan.SupervisePort), HoldTimeout: "3s"}
	in.Endpoints.SuperviseURL = fmt.Sprintf("http://%s:%d", bundleIP, plan.SupervisePort)
	in.Bundle.Proxy.Routes = append(in.Bundle.Proxy.Routes, plan.Route{
		Host: "held.test", Ports: []int{80}, DLP: bundle.DLPSupervise, Intercept: true,
		Matches: []plan.Match{{Paths: []plan.PathMatch{{Type: "prefix", Value: "/allowed"}}}},
	})
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t)})
	if _, err := converge(t, b, p, false, executor.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}

	args := []string{
		"-proxy", in.Endpoints.ProxyURL,
		"-held", "http://held.test/forbidden",
		"-supervise", in.Endpoints.SuperviseURL + "/requests",
		"-n", fmt.Sprint(floodRequests), "-c", "16", "-path", "2048"}
	var rep struct {
		HeldStatus int                      `json:"held_status"`
		Sent       int                      `json:"sent"`
		Statuses   map[string]int           `json:"statuses"`
		Seconds    float64                  `json:"seconds"`
		Supervise  bundle.SuperviseResponse `json:"supervise"`
	}
	if err := runAgentSide(eng, dockertest.FloodImage(t, eng), p, "flood", args, 15*time.Minute, &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("flood: %d requests in %.1f s, answers %v", rep.Sent, rep.Seconds, rep.Statuses)
	if rep.HeldStatus != 403 {
		t.Errorf("the held request got %d, want 403", rep.HeldStatus)
	}
	if rep.Sent != floodRequests || rep.Statuses["403"] != floodRequests {
		t.Errorf("sent %d, answers %v; want %d answered 403", rep.Sent, rep.Statuses, floodRequests)
	}
	held := 0
	for _, h := range rep.Supervise.Held {
		if h.Host == "held.test" && h.Path == "/forbidden" {
			held++
		}
	}
	if held != 1 {
		t.Errorf("after the flood the supervise list holds the held request %d times, want once (held %d, denied %d entries)", held, len(rep.Supervise.Held), len(rep.Supervise.Denied))
	}

	bundleLog := containerLogs(t, eng, in.Bundle.ContainerName)
	size := int64(len(bundleLog))
	t.Logf("bundle log after the flood: %d bytes (%d lines), cap %d", size, strings.Count(bundleLog, "\n"), docker.LogCapBytes())
	if size > docker.LogCapBytes() {
		t.Errorf("bundle log is %d bytes after the flood, over its cap of %d", size, docker.LogCapBytes())
	}
	insp, err := eng.ContainerInspect(context.Background(), in.Bundle.ContainerName)
	if err != nil {
		t.Fatal(err)
	}
	if lc := insp.HostConfig.LogConfig; lc.Config["max-size"] == "" || lc.Config["max-file"] == "" {
		t.Errorf("bundle log config %+v has no rotation", lc)
	}
}

// runAgentSide runs the agent-side image with args (dockertest.RunAgentSide).
func runAgentSide(eng *client.Client, image string, p *plan.Plan, name string, args []string, timeout time.Duration, report any) error {
	return dockertest.RunAgentSide(eng, image, p, name, args, timeout, report)
}
