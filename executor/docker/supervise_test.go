package docker_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/bundle"
	"github.com/bottleplan/bottleplan/executor"
	"github.com/bottleplan/bottleplan/executor/docker"
	"github.com/bottleplan/bottleplan/executor/docker/dockertest"
	"github.com/bottleplan/bottleplan/plan"
)

// heldHoldTimeout is the plan's hold timeout in the supervise test.
const heldHoldTimeout = "20s"

// agentReport is what the agent-side client (the flood image, -n 0)
// saw of its held request.
type agentReport struct {
	HeldStatus  int    `json:"held_status"`
	HeldBody    string `json:"held_body"`
	DecideTries int    `json:"decide_tries"`
	DecideID    string `json:"decide_id"`
	MCP         string `json:"mcp"`
}

// TestSuperviseHoldsUntilTheOperatorDecides: a request from the agent's
// network (the probe address, capabilities as the agent's) that a
// supervise rule holds stays open; the host lists it through the
// Engine's exec API and approves it, and the test upstream sees it with
// the injected token; again with deny; and once more while the agent
// itself tries every method and path on every bundle port, with the ID
// it read, to decide it: only the timeout ends that one.
func TestSuperviseHoldsUntilTheOperatorDecides(t *testing.T) {
	eng := dockertest.Engine(t)
	project := dockertest.Project(t, eng)
	certs := dockertest.NewUpstreamCerts(t, authHost)
	roots := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, certs.CAPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	b := docker.New(eng, docker.Options{BundleBinary: dockertest.BundleBinary(t), RootsFile: roots})
	p := dockertest.Plan(project, dockertest.AgentImage(t, eng), "a")
	in := &p.Instances[0]
	bundleIP := in.Network.BundleIP
	in.Bundle.Supervise = &plan.Supervise{Listen: fmt.Sprintf("%s:%d", bundleIP, plan.SupervisePort), HoldTimeout: heldHoldTimeout}
	superviseBase := fmt.Sprintf("http://%s:%d", bundleIP, plan.SupervisePort)
	// As the compiler makes them: the MCP URL in the endpoints and the
	// guest env.
	in.Endpoints.SuperviseURL = superviseBase + plan.SuperviseMCPPath
	if in.GuestEnv == nil {
		in.GuestEnv = map[string]string{}
	}
	in.GuestEnv[plan.GuestSuperviseEnv] = in.Endpoints.SuperviseURL
	in.Bundle.Proxy.Routes = []plan.Route{{Host: authHost, Ports: []int{443}, DLP: bundle.DLPSupervise, Intercept: true,
		Auth:    &plan.RouteAuth{Scheme: "Bearer", TokenRef: "UPSTREAM_TOKEN"},
		Matches: []plan.Match{{Paths: []plan.PathMatch{{Type: "prefix", Value: "/ok"}}}}}}
	in.Bundle.SecretsFromHost = []string{"UPSTREAM_TOKEN"}
	dockertest.PublicEgress(t, eng, p)
	dockertest.StartUpstream(t, eng, p, certs, authHost)
	token := "tok-" + project + "-held"
	if _, err := converge(t, b, p, false, executor.ApplyOptions{Secrets: map[string]executor.InstanceSecrets{
		"a": {Bundle: []string{"UPSTREAM_TOKEN=" + token}},
	}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// An unknown ID is the operator API's clear refusal.
	if _, err := b.BundleCtl(ctx, in, "approve", "nosuchid"); !errors.Is(err, docker.ErrOperator) || !strings.Contains(err.Error(), "no pending item") {
		t.Fatalf("approve of an unknown ID: %v", err)
	}

	sum := sha256.Sum256([]byte("Bearer " + token))
	tests := map[string]struct {
		decide   []string // ctl arguments after the ID; nil lets it time out
		agent    bool     // the agent tries to decide it itself
		wantCode int
		wantBody string
	}{
		"approve":                  {decide: []string{"approve"}, wantCode: 200, wantBody: "upstream ok auth-sha256=" + hex.EncodeToString(sum[:]) + "\n"},
		"deny":                     {decide: []string{"deny", "--reason", "not now"}, wantCode: 403, wantBody: "blocked: denied by operator: not now\n"},
		"agent tries then timeout": {agent: true, wantCode: 403, wantBody: "blocked: not approved within " + heldHoldTimeout + "\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			args := []string{"-proxy", in.Endpoints.ProxyURL, "-held", "https://" + authHost + "/held/" + strings.ReplaceAll(name, " ", "-"),
				"-insecure", "-held-wait", "2m", "-n", "0", "-c", "1"}
			if tc.agent {
				args = append(args, "-supervise", superviseBase+"/requests",
					"-decide", fmt.Sprintf("%s:3128,%s:%d", bundleIP, bundleIP, plan.SupervisePort))
			}
			done := make(chan agentReport, 1)
			image := dockertest.FloodImage(t, eng)
			go func() {
				var rep agentReport
				if err := runAgentSide(eng, image, p, strings.ReplaceAll(name, " ", "-"), args, 5*time.Minute, &rep); err != nil {
					t.Error(err)
				}
				done <- rep
			}()
			var held []bundle.Item
			deadline := time.Now().Add(time.Minute)
			for len(held) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("nothing was held")
				}
				time.Sleep(200 * time.Millisecond)
				out, err := b.BundleCtl(ctx, in, "list")
				if err != nil {
					t.Fatal(err)
				}
				var hl bundle.ItemList
				if err := json.Unmarshal(out, &hl); err != nil {
					t.Fatalf("ctl list: %v: %s", err, out)
				}
				held = hl.Items
			}
			if len(held) != 1 || held[0].Host != authHost || !strings.HasPrefix(held[0].Path, "/held/") {
				t.Fatalf("held %+v", held)
			}
			if tc.decide != nil {
				if _, err := b.BundleCtl(ctx, in, append([]string{tc.decide[0], held[0].ID}, tc.decide[1:]...)...); err != nil {
					t.Fatal(err)
				}
			}
			rep := <-done
			t.Logf("%s: agent got %d %q (%d tries to decide with ID %s)", name, rep.HeldStatus, rep.HeldBody, rep.DecideTries, rep.DecideID)
			if rep.HeldStatus != tc.wantCode || rep.HeldBody != tc.wantBody {
				t.Fatalf("agent got %d %q, want %d %q", rep.HeldStatus, rep.HeldBody, tc.wantCode, tc.wantBody)
			}
			if tc.agent && (rep.DecideTries == 0 || rep.DecideID != held[0].ID) {
				t.Fatalf("the agent's attempt did not run with the real ID: %+v", rep)
			}
		})
	}

	// The agent asks over MCP, at the URL its env names, for a host its
	// routes do not allow; the host approves through exec; the call
	// returns "approved" and the bundle lists, then revokes, the grant.
	t.Run("request_access over MCP", func(t *testing.T) {
		if got := in.GuestEnv[plan.GuestSuperviseEnv]; got != in.Endpoints.SuperviseURL || !strings.HasSuffix(got, plan.SuperviseMCPPath) {
			t.Fatalf("guest env %s = %q, endpoints %q", plan.GuestSuperviseEnv, got, in.Endpoints.SuperviseURL)
		}
		done := make(chan agentReport, 1)
		image := dockertest.FloodImage(t, eng)
		go func() {
			var rep agentReport
			if err := runAgentSide(eng, image, p, "mcp", []string{"-mcp", in.GuestEnv[plan.GuestSuperviseEnv],
				"-access", "granted.example.org", "-held-wait", "2m"}, 5*time.Minute, &rep); err != nil {
				t.Error(err)
			}
			done <- rep
		}()
		var items []bundle.Item
		deadline := time.Now().Add(time.Minute)
		for len(items) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no access request arrived")
			}
			time.Sleep(200 * time.Millisecond)
			out, err := b.BundleCtl(ctx, in, "list")
			if err != nil {
				t.Fatal(err)
			}
			var il bundle.ItemList
			if err := json.Unmarshal(out, &il); err != nil {
				t.Fatalf("ctl list: %v: %s", err, out)
			}
			items = il.Items
		}
		if len(items) != 1 || items[0].Kind != bundle.KindAccess || items[0].Host != "granted.example.org:443" {
			t.Fatalf("items %+v", items)
		}
		if _, err := b.BundleCtl(ctx, in, "answer", items[0].ID, "no"); !errors.Is(err, docker.ErrOperator) || !strings.Contains(err.Error(), "use approve or deny") {
			t.Fatalf("answer on an access request: %v", err)
		}
		if _, err := b.BundleCtl(ctx, in, "approve", items[0].ID, "--reason", "for the test"); err != nil {
			t.Fatal(err)
		}
		rep := <-done
		if rep.HeldStatus != 200 || !strings.Contains(rep.MCP, `"outcome":"approved"`) {
			t.Fatalf("the agent's MCP call got %d %s", rep.HeldStatus, rep.MCP)
		}
		out, err := b.BundleCtl(ctx, in, "grants")
		if err != nil {
			t.Fatal(err)
		}
		var gl bundle.GrantList
		if err := json.Unmarshal(out, &gl); err != nil || len(gl.Grants) != 1 || gl.Grants[0].Host != "granted.example.org" || gl.Grants[0].Port != 443 {
			t.Fatalf("ctl grants: %v %s", err, out)
		}
		if out, err := b.BundleCtl(ctx, in, "revoke-grants"); err != nil || strings.TrimSpace(string(out)) != `{"revoked":1}` {
			t.Fatalf("ctl revoke-grants: %v %s", err, out)
		}
	})
}
