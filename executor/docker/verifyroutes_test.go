package docker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/bottleplan/bottleplan/bundle/probewire"
	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/plan"
)

// routesOn runs verify's routes-out probe the way verify does (the live
// bundle's image, `bottleplan-bundle probe`, at probe_ip on in's internal
// network) in a container also attached to the extra networks, and
// judges the table it read. It is the bottle verify cannot be made to
// build itself: a sandbox container with a second network. The probe
// only reads /proc/net/route; no packet is sent.
func (f *verifyFixture) routesOn(t *testing.T, in *plan.Instance, extra ...string) executor.VerifyResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	checks, err := executor.VerifyChecks(f.p, in.Slug, executor.VerifyFacts{})
	if err != nil {
		t.Fatal(err)
	}
	var check *executor.Check
	for i := range checks {
		if checks[i].Probe.Name == executor.CheckRoutesOut {
			check = &checks[i]
		}
	}
	if check == nil {
		t.Fatalf("verify has no %s check", executor.CheckRoutesOut)
	}
	bi, err := f.eng.ContainerInspect(ctx, in.Bundle.ContainerName)
	if err != nil {
		t.Fatal(err)
	}
	arg, _ := json.Marshal([]probewire.Target{check.Probe})
	resp, err := f.eng.ContainerCreate(ctx, &container.Config{
		Image:      bi.Image,
		Entrypoint: []string{plan.BundleBinary},
		Cmd:        []string{"probe", string(arg)},
		User:       "65534:65534",
		Labels:     executor.Labels(f.p.Project, in.Slug, executor.RoleProbe, "", f.p.PlanDigest),
	}, &container.HostConfig{CapDrop: []string{"ALL"}, SecurityOpt: []string{"no-new-privileges"}},
		&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			in.Network.InternalName: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: in.Network.ProbeIP}},
		}}, nil, in.Bundle.ContainerName+"-routes")
	if err != nil {
		t.Fatal(err)
	}
	defer f.eng.ContainerRemove(context.WithoutCancel(ctx), resp.ID, container.RemoveOptions{Force: true})
	for _, n := range extra {
		if err := f.eng.NetworkConnect(ctx, n, resp.ID, nil); err != nil {
			t.Fatalf("attach the probe to %s: %v", n, err)
		}
	}
	waitc, errc := f.eng.ContainerWait(ctx, resp.ID, container.WaitConditionNextExit)
	if err := f.eng.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case w := <-waitc:
		if w.StatusCode != 0 {
			t.Fatalf("probe runner exited %d", w.StatusCode)
		}
	case err := <-errc:
		t.Fatal(err)
	}
	rc, err := f.eng.ContainerLogs(ctx, resp.ID, container.LogsOptions{ShowStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		t.Fatal(err)
	}
	var rs []probewire.Result
	if err := json.Unmarshal(out.Bytes(), &rs); err != nil || len(rs) != 1 {
		t.Fatalf("probe results %q: %v", out.String(), err)
	}
	v := executor.Judge(in.Slug, *check, rs[0])
	t.Logf("%s with %v: pass=%v got %q", executor.CheckRoutesOut, extra, v.Pass, v.Got)
	return v
}
