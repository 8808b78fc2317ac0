package bundle

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bottleplan/bottleplan/plan"
)

func TestServeListensOnEveryDaemonAndStops(t *testing.T) {
	inst := testInstance()
	inst.Bundle.GitGate = &plan.GitGate{Listen: "127.0.0.1:0", Repos: []plan.Repo{
		{Name: "app", Upstream: "https://git.example.test/a/app.git", Access: "read", KeyProvider: "token", TokenRef: "T"},
	}}
	ca := newTestCA(t, "instance test CA")
	b, err := New(Options{Instance: inst, CA: ca.ca, Getenv: func(string) string { return "" }, Dial: mapDial(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := map[string]string{}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- b.Serve(ctx, func(name, addr string) {
			addrs[name] = addr
			if len(addrs) == 3 {
				close(ready)
			}
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Serve returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("daemons did not start")
	}
	for _, name := range []string{"proxy", "git-gate", "supervise"} {
		resp, err := http.Get("http://" + addrs[name] + "/healthz")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
			t.Fatalf("%s /healthz: %d %q", name, resp.StatusCode, body)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not stop")
	}
}

func TestServeReportsListenError(t *testing.T) {
	tests := map[string]struct{ listen, err string }{
		"unbindable": {"256.0.0.1:1", "proxy: listen on 256.0.0.1:1"},
		"no host":    {":3128", `proxy: listen address ":3128" is not ip:port`},
		"empty":      {"", `proxy: listen address "" is not ip:port`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inst := testInstance()
			inst.Bundle.Proxy.Listen = tc.listen
			ca := newTestCA(t, "instance test CA")
			b, err := New(Options{Instance: inst, CA: ca.ca, Getenv: func(string) string { return "" }})
			if err != nil {
				t.Fatal(err)
			}
			err = b.Serve(context.Background(), nil)
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Fatalf("got %v, want %s...", err, tc.err)
			}
		})
	}
}

func TestNewRefusesInterceptWithoutCA(t *testing.T) {
	_, err := New(Options{Instance: testInstance(), Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "intercepts TLS but no CA") {
		t.Fatalf("got %v", err)
	}
}
